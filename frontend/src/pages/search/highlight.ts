// Marking the words a search matched: the server says which lowercase words each field
// matched; the display marks every whole token (a run of letters or digits) equal to one.

const TOKEN = /[\p{L}\p{N}]+/gu;

export interface Piece {
  text: string;
  mark: boolean;
}

/**
 * highlight splits text into pieces, marked where a token equals one of words (case-insensitive).
 * A word that is itself several tokens (an id such as "evt-m3k9x2-4f") marks each of them.
 */
export function highlight(text: string, words: readonly string[] | undefined): Piece[] {
  const wanted = new Set((words ?? []).flatMap((w) => w.toLowerCase().match(TOKEN) ?? []));
  if (wanted.size === 0) return text ? [{ text, mark: false }] : [];
  const out: Piece[] = [];
  const plain = (s: string) => {
    if (!s) return;
    const last = out.at(-1);
    if (last && !last.mark) last.text += s;
    else out.push({ text: s, mark: false });
  };
  let at = 0;
  for (const m of text.matchAll(TOKEN)) {
    if (!wanted.has(m[0].toLowerCase())) continue;
    plain(text.slice(at, m.index));
    out.push({ text: m[0], mark: true });
    at = m.index + m[0].length;
  }
  plain(text.slice(at));
  return out;
}
