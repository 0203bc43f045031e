// SDPose web extension: the background images behind the pose preview and the keypoint editor.
// One loader for both: an image per URL, loaded once and redrawn when it arrives, kept in a cache of at most
// MAX_IMAGES entries (the least recently shown is dropped first), so scrubbing a long clip cannot hold every frame.

export const MAX_IMAGES = 64;

export class BackgroundImages {
  /** onLoad: called when an image finishes loading (redraw); max: how many images the cache keeps. */
  constructor(onLoad, max = MAX_IMAGES) {
    this.onLoad = onLoad;
    this.max = Math.max(1, max | 0);
    this.images = new Map(); // url -> Image, least recently used first
  }

  get size() {
    return this.images.size;
  }

  /** The loaded image for `url`, or null while it is loading (onLoad runs when it is ready). */
  image(url) {
    let img = this.images.get(url);
    if (img) {
      this.images.delete(url); // re-inserted below: now the most recently used
    } else {
      img = new Image();
      img.onload = () => this.images.get(url) === img && this.onLoad();
      img.src = url;
    }
    this.images.set(url, img);
    while (this.images.size > this.max) this.images.delete(this.images.keys().next().value);
    return img.complete && img.naturalWidth ? img : null;
  }

  /** The background of frame `index`: its own URL, or the last one (one still behind every frame); null if none. */
  frame(urls, index) {
    if (!urls || !urls.length) return null;
    const url = urls[Math.min(index, urls.length - 1)];
    return url ? this.image(url) : null;
  }
}
