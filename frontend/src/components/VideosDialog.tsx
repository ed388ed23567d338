import { useRef, useState } from 'react';
import { DEFAULT_VIDEOS, parseVideos, videosToText, type Video } from '../lib/videos';

/** VideosDialog edits the board's video list as text: one "id title" per line. */
export function VideosDialog({ videos, onSave }: { videos: Video[]; onSave(v: Video[] | null): void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const [text, setText] = useState('');
  const parsed = parseVideos(text);
  return (
    <>
      <button
        type="button"
        className="btn btn-ghost"
        onClick={() => {
          setText(videosToText(videos));
          ref.current?.showModal?.();
        }}
      >
        Edit videos
      </button>
      <dialog ref={ref} className="dialog" aria-labelledby="videos-title">
        <form
          method="dialog"
          onSubmit={(e) => {
            e.preventDefault();
            if (parsed.errors.length) return;
            onSave(parsed.videos);
            ref.current?.close();
          }}
        >
          <h2 id="videos-title">Videos on the board</h2>
          <p className="muted">
            One per line: the video id (the subject counted for <code>video_liked</code>), a space, then its title.
          </p>
          <textarea className="code" rows={12} value={text} onChange={(e) => setText(e.target.value)} aria-label="Videos, one per line" spellCheck={false} />
          {parsed.errors.length > 0 && (
            <ul className="error-list" role="alert">
              {parsed.errors.map((e) => (
                <li key={e}>{e}</li>
              ))}
            </ul>
          )}
          <div className="row end">
            <button
              type="button"
              className="btn btn-ghost"
              onClick={() => {
                onSave(null);
                setText(videosToText(DEFAULT_VIDEOS));
                ref.current?.close();
              }}
            >
              Reset to defaults
            </button>
            <button type="button" className="btn btn-ghost" onClick={() => ref.current?.close()}>
              Cancel
            </button>
            <button type="submit" className="btn btn-primary" disabled={parsed.errors.length > 0}>
              Save
            </button>
          </div>
        </form>
      </dialog>
    </>
  );
}
