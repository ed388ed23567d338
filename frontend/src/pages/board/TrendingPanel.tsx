import { useState } from 'react';
import { errorText } from '../../api/http';
import { useLiveTop } from '../../api/liveQueries';
import { Trending } from '../../components/Trending';
import { store, stored } from '../../lib/storage';
import { LIKE_TYPE } from '../../lib/videos';

/** TrendingPanel is the top 10 of a window the user picks (kept in this browser), live. */
export function TrendingPanel({ windows, titles }: { windows: string[]; titles: Map<string, string> }) {
  const [topWindow, setTopWindow] = useState(() => stored('pulse.topWindow') ?? '1m');
  const win = windows.includes(topWindow) ? topWindow : windows[0]!;
  const top = useLiveTop(LIKE_TYPE, win);
  // An HTTP failure matters only until a frame brought the leaderboard.
  const error = top.liveError ?? (top.error && !top.data ? errorText(top.error) : null);
  return (
    <Trending
      entries={top.data?.entries}
      window={win}
      windows={windows}
      onWindow={(w) => {
        store('pulse.topWindow', w);
        setTopWindow(w);
      }}
      titleOf={(s) => titles.get(s)}
      error={error}
    />
  );
}
