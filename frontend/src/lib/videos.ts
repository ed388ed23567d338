// The videos on the live board: a dozen by default, editable on the board and kept in this
// browser (localStorage).

export interface Video {
  id: string;
  title: string;
}

export const LIKE_TYPE = 'video_liked';

export const DEFAULT_VIDEOS: Video[] = [
  { id: 'video-1', title: 'Sunrise over Lisbon' },
  { id: 'video-2', title: 'Cat vs. cucumber' },
  { id: 'video-3', title: 'Ten-minute pasta' },
  { id: 'video-4', title: 'Street piano in Tokyo' },
  { id: 'video-5', title: 'Go in 100 seconds' },
  { id: 'video-6', title: 'Northern lights timelapse' },
  { id: 'video-7', title: 'Tiny house tour' },
  { id: 'video-8', title: 'Drone over Iceland' },
  { id: 'video-9', title: 'Sourdough basics' },
  { id: 'video-10', title: 'Skateboard fails' },
  { id: 'video-11', title: 'Jazz at midnight' },
  { id: 'video-12', title: 'How Redis Streams work' },
];

const key = 'pulse.videos';
export const MAX_VIDEOS = 48;

export function loadVideos(): Video[] {
  try {
    const raw = localStorage.getItem(key);
    if (raw) {
      const v = JSON.parse(raw) as Video[];
      if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x?.id === 'string' && typeof x?.title === 'string')) return v;
    }
  } catch {
    // no storage, or garbage in it: defaults
  }
  return DEFAULT_VIDEOS;
}

export function saveVideos(v: Video[] | null): void {
  try {
    if (v) localStorage.setItem(key, JSON.stringify(v));
    else localStorage.removeItem(key);
  } catch {
    // not kept across reloads; the board still uses them
  }
}

export function videosToText(v: Video[]): string {
  return v.map((x) => `${x.id} ${x.title}`).join('\n');
}

/** parseVideos reads one video per line: its id (the counted subject), a space, its title. */
export function parseVideos(text: string): { videos: Video[]; errors: string[] } {
  const videos: Video[] = [];
  const errors: string[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((line, i) => {
    const l = line.trim();
    if (!l) return;
    const [id = '', ...rest] = l.split(/\s+/);
    if (id.length > 128 || /\p{Cc}/u.test(id)) errors.push(`line ${i + 1}: the id must be at most 128 characters`);
    else if (seen.has(id)) errors.push(`line ${i + 1}: ${id} is listed twice`);
    else {
      seen.add(id);
      videos.push({ id, title: rest.join(' ') || id });
    }
  });
  if (videos.length === 0) errors.push('list at least one video');
  if (videos.length > MAX_VIDEOS) errors.push(`at most ${MAX_VIDEOS} videos`);
  return { videos, errors };
}
