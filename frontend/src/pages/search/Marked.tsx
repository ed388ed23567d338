import { Fragment } from 'react';
import { highlight } from './highlight';

/** Marked shows text with the words a search matched in <mark>. */
export function Marked({ text, words }: { text: string; words: readonly string[] | undefined }) {
  return (
    <>
      {highlight(text, words).map((p, i) => (p.mark ? <mark key={i}>{p.text}</mark> : <Fragment key={i}>{p.text}</Fragment>))}
    </>
  );
}
