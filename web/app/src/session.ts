// The signed-in key of this tab. It is held in memory only: a reload signs
// out (the encrypted copy stays in localStorage).
import type { UnlockedKey } from "./keystore";

let current: UnlockedKey | null = null;
const listeners: ((k: UnlockedKey | null) => void)[] = [];

export const signedIn = () => current;

export function setKey(k: UnlockedKey | null) {
  current = k;
  for (const f of listeners) f(k);
}

export function onKeyChange(f: (k: UnlockedKey | null) => void) {
  listeners.push(f);
}
