// What the audio-model billing tests share: a gateway config in front of the in-process mock serving
// gpt-audio (priced at its text rates, so its audio rates follow the list's ratio), and a clip to send.

/**
 * Config for a gateway on the ledger at `ledgerUrl` with one project per entry of `projects` (its daily
 * money limit in USD) and one key per project, `tg-<project>`. The mock answers 10 completion tokens: a
 * spoken answer's are 2 of transcript and 8 of audio.
 */
export function gptAudioConfig(ledgerUrl: string, projects: Record<string, number>): string {
  const names = Object.keys(projects);
  return `
storage: {ledger: "${ledgerUrl}"}
server: {timezone: UTC}
providers:
  openai: {type: mock, output_tokens: 10}
pricing:
  "openai/gpt-audio": {input: 2.5, output: 10}
projects:
${names.map((p) => `  ${p}: {daily_limit: {max_cost_usd: ${projects[p]}}}`).join('\n')}
routes:
  r: {chat_models: [{model_id: gpt-audio, model: openai/gpt-audio}]}
keys:
${names.map((p) => `  - {id: ${p}, key: tg-${p}, project: ${p}}`).join('\n')}
`;
}

/** One second of silent 8 kHz 16-bit mono WAV, base64. */
export function wavSecond(): string {
  const samples = Buffer.alloc(16_000);
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'latin1');
  header.writeUInt32LE(36 + samples.length, 4);
  header.write('WAVEfmt ', 8, 'latin1');
  header.writeUInt32LE(16, 16);
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(1, 22); // mono
  header.writeUInt32LE(8000, 24);
  header.writeUInt32LE(16_000, 28); // bytes per second
  header.writeUInt16LE(2, 32);
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'latin1');
  header.writeUInt32LE(samples.length, 40);
  return Buffer.concat([header, samples]).toString('base64');
}
