// What a My Activity entry was, from its product header ("Search", "YouTube", "Maps"...) and the
// verb phrase that opens its title ("Searched for", "Watched"...). Shared by the HTML parser and
// meant for the JSON one too, so that both formats of the same export give the same `kind`s:
// the JSON title "Searched for cats" goes through splitActivityTitle, then activityKind.
//
//   verb phrase (US English)        header                        kind
//   Searched for / Searched         YouTube                       video_search
//                                   Maps                          map_search
//                                   Image Search                  image_search
//                                   Google Play Store             app_search
//                                   Shopping                      product_search
//                                   any other                     search
//   Visited                         any                           page_visit
//   Viewed area around / Explored   any                           map_view
//   Viewed                          Maps                          map_view
//                                   any other                     page_view
//   Directions to                   any                           map_directions
//   Watched                         any                           video_watch
//   Listened to                     any                           audio_listen
//   Read                            any                           article_read
//   Used                            any                           app_use
//   Installed                       any                           app_install
//   Played                          any                           game_play
//   Said                            any                           voice_command
//   Liked / Disliked                any                           like / dislike
//   Subscribed to                   any                           subscribe
//   Shared                          any                           share
//   Purchased                       any                           purchase
//   anything else                   any                           activity  (verb kept in attributes.action)
//
// The phrases here are English. Other languages' phrases (locales.ts: "Has buscado",
// "Vous avez regardé", "… aufgerufen", "… を視聴しました") are read by the My Activity sources, which turn
// them into the English phrase they translate (canonicalAction) before asking activityKind; where
// a language has one word for Watched and Viewed (es "Has visto", de "angesehen") the header
// decides. The JSON source reads its titles through the same tables.

import type { CanonicalAction } from './locales.js';

/** Known verb phrases, longest first so that "Searched for" wins over "Searched". */
export const ACTION_PHRASES: readonly string[] = [
  'Viewed area around',
  'Subscribed to',
  'Directions to',
  'Searched for',
  'Listened to',
  'Purchased',
  'Installed',
  'Disliked',
  'Explored',
  'Searched',
  'Visited',
  'Watched',
  'Played',
  'Shared',
  'Viewed',
  'Liked',
  'Used',
  'Said',
  'Read',
];

const KIND_BY_ACTION: Readonly<Record<string, string>> = {
  Visited: 'page_visit',
  'Viewed area around': 'map_view',
  Explored: 'map_view',
  'Directions to': 'map_directions',
  Watched: 'video_watch',
  'Listened to': 'audio_listen',
  Read: 'article_read',
  Used: 'app_use',
  Installed: 'app_install',
  Played: 'game_play',
  Said: 'voice_command',
  Liked: 'like',
  Disliked: 'dislike',
  'Subscribed to': 'subscribe',
  Shared: 'share',
  Purchased: 'purchase',
};

const SEARCH_KIND_BY_HEADER: Readonly<Record<string, string>> = {
  YouTube: 'video_search',
  'YouTube Music': 'video_search',
  Maps: 'map_search',
  'Google Maps': 'map_search',
  'Image Search': 'image_search',
  'Google Play Store': 'app_search',
  Shopping: 'product_search',
};

/**
 * The English phrase a localized action stands for under this header: "Watched or Viewed" (es
 * "Has visto", de "angesehen") is Watched under a YouTube header, Viewed elsewhere.
 */
export function canonicalAction(header: string, canonical: CanonicalAction): string {
  if (canonical === 'Watched or Viewed') return /\bYouTube\b/i.test(header) ? 'Watched' : 'Viewed';
  return canonical;
}

/** The item kind for an entry; `action` null or unknown gives `activity`. */
export function activityKind(header: string, action: string | null): string {
  if (action === null) return 'activity';
  if (action === 'Searched for' || action === 'Searched') return SEARCH_KIND_BY_HEADER[header] ?? 'search';
  if (action === 'Viewed') return header === 'Maps' || header === 'Google Maps' ? 'map_view' : 'page_view';
  return KIND_BY_ACTION[action] ?? 'activity';
}

/**
 * Splits a title such as "Searched for cats" into its verb phrase and the rest ("cats"). The
 * phrase must be followed by a space (any Unicode space) or end the title. No known phrase:
 * action null and the whole title as the object.
 */
export function splitActivityTitle(title: string): { action: string | null; object: string } {
  for (const phrase of ACTION_PHRASES) {
    if (!title.startsWith(phrase)) continue;
    const rest = title.slice(phrase.length);
    if (rest.length === 0) return { action: phrase, object: '' };
    if (/^\s/.test(rest)) return { action: phrase, object: rest.trim() };
  }
  return { action: null, object: title.trim() };
}

/** YouTube's wording for a watched or liked item that no longer exists. */
export const REMOVED_OBJECT = /^an? (?:video|post|short|playlist|channel|story)(?: that)? (?:has been|was) removed$/i;

/** `https://www.google.com/url?q=<target>&…` → the target (Search's "Visited" entries). */
export function unwrapGoogleRedirect(url: string): string | null {
  if (!/^https?:\/\/www\.google\.[a-z.]+\/url\?/.test(url)) return null;
  try {
    const target = new URL(url).searchParams.get('q');
    return target !== null && /^https?:\/\//i.test(target) ? target : null;
  } catch {
    return null;
  }
}

const COORDINATES_IN_URL = /(?:[?&](?:q|query|center|ll)=|\/?@)(-?\d{1,2}(?:\.\d+)?)(?:,|%2C)(-?\d{1,3}(?:\.\d+)?)/i;

/** Coordinates in a Maps URL (`center=`, `q=`, `query=`, `ll=` or `@lat,lng`), when in range. */
export function coordinatesInUrl(url: string | null): { lat: number; lon: number } | null {
  if (url === null) return null;
  const match = COORDINATES_IN_URL.exec(url);
  if (!match) return null;
  const lat = Number(match[1]);
  const lon = Number(match[2]);
  return Math.abs(lat) <= 90 && Math.abs(lon) <= 180 ? { lat, lon } : null;
}
