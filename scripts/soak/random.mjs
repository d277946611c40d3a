// Randomness: seeded, so that a failing run's traffic mix can be replayed (timing cannot).
// One generator per run, shared by every caller (the traffic mix and the choice of gateway draw from the
// same sequence, in the same order as when the soak was one file).

export function seededRandom(seed) {
  let prngState = seed >>> 0 || 1;
  function random() {
    // xorshift32
    prngState ^= prngState << 13;
    prngState ^= prngState >>> 17;
    prngState ^= prngState << 5;
    return (prngState >>> 0) / 4294967296;
  }
  const randomInt = (lo, hi) => lo + Math.floor(random() * (hi - lo + 1));
  const pick = (list) => list[Math.floor(random() * list.length)];
  return { random, randomInt, pick };
}
