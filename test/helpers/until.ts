// Waiting in tests for something that happens in the background (a process, a timer, another instance).

/** Polls `what` every 20 ms until it holds; throws after `timeoutMs`. */
export async function until(what: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await what())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
