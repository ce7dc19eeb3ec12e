/* Placeholders: until an <img data-blurhash="…" data-color="#rrggbb" data-aspect="1.5000"> has loaded, paint its
   dominant colour and its BlurHash (in the picture's shape, data-aspect, then cropped as the box crops it) behind it;
   take both away when it arrives. No inline style (the pages' Content-Security-Policy allows none):
   the colour and the painted hash (a data: URL, which img-src allows) are set through the CSSOM. Images added later
   (the gallery's uploads and "Load more") are painted as they arrive. Other sites include this one file; it defines
   window.darkroomPlaceholders = {decode, paint} and nothing else. */
(function () {
  "use strict";

  const DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";
  const COLOR = /^#[0-9a-f]{6}$/i;
  const PAINTED_WIDTH = 32; // pixels the hash is painted at; the browser's smooth scaling does the rest
  const SELECTOR = "img[data-blurhash], img[data-color]";
  const PROPERTIES = ["background-color", "background-image", "background-size", "background-position"];

  function base83(text) {
    let value = 0;
    for (const digit of text) {
      const found = DIGITS.indexOf(digit);
      if (found < 0) throw new Error("not a BlurHash digit: " + digit);
      value = value * 83 + found;
    }
    return value;
  }

  function toLinear(value) {
    const v = value / 255;
    return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4);
  }

  function toSrgb(value) {
    const v = Math.max(0, Math.min(1, value));
    return Math.trunc((v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055) * 255 + 0.5);
  }

  function signedSquare(value) {
    return Math.sign(value) * value * value;
  }

  /* BlurHash's decoder (https://blurha.sh, the algorithm of woltapp/blurhash's TypeScript decode): the RGBA pixels
     of `width` x `height`. Throws on a string that is not a BlurHash. */
  function decode(hash, width, height) {
    if (typeof hash !== "string" || hash.length < 6) throw new Error("not a BlurHash");
    const sizes = base83(hash[0]);
    const across = (sizes % 9) + 1;
    const down = Math.floor(sizes / 9) + 1;
    if (hash.length !== 4 + 2 * across * down) throw new Error("not a BlurHash: wrong length");
    const largest = (base83(hash[1]) + 1) / 166;
    const colours = [];
    const dc = base83(hash.substring(2, 6));
    colours.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    for (let i = 1; i < across * down; i++) {
      const ac = base83(hash.substring(4 + 2 * i, 6 + 2 * i));
      const channels = [Math.floor(ac / 361), Math.floor(ac / 19) % 19, ac % 19];
      colours.push(channels.map((q) => signedSquare((q - 9) / 9) * largest));
    }
    const pixels = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let r = 0, g = 0, b = 0;
        for (let j = 0; j < down; j++) {
          for (let i = 0; i < across; i++) {
            const basis = Math.cos((Math.PI * x * i) / width) * Math.cos((Math.PI * y * j) / height);
            const colour = colours[i + j * across];
            r += colour[0] * basis;
            g += colour[1] * basis;
            b += colour[2] * basis;
          }
        }
        const at = 4 * (x + y * width);
        pixels[at] = toSrgb(r);
        pixels[at + 1] = toSrgb(g);
        pixels[at + 2] = toSrgb(b);
        pixels[at + 3] = 255;
      }
    }
    return pixels;
  }

  /* The hash painted in the picture's own shape (data-aspect, width / height; else the box's), as a data: URL. */
  function painted(hash, img) {
    const given = parseFloat(img.dataset.aspect);
    const aspect = given > 0 ? given : img.width > 0 && img.height > 0 ? img.width / img.height : 1;
    const width = PAINTED_WIDTH;
    const height = Math.max(1, Math.min(4 * PAINTED_WIDTH, Math.round(PAINTED_WIDTH / aspect)));
    const canvas = document.createElement("canvas");
    canvas.width = width;
    canvas.height = height;
    canvas.getContext("2d").putImageData(new ImageData(decode(hash, width, height), width, height), 0, 0);
    return canvas.toDataURL();
  }

  function clear(img) {
    for (const property of PROPERTIES) img.style.removeProperty(property);
  }

  /* Paint one image's placeholder unless it has loaded already; it goes when the picture arrives. A picture that
     cannot load keeps it: it still says what was there. */
  function paint(img) {
    if (img.dataset.placeholder || (img.complete && img.naturalWidth > 0)) return;
    img.dataset.placeholder = "painted";
    const colour = img.dataset.color;
    if (colour && COLOR.test(colour)) img.style.backgroundColor = colour;
    if (img.dataset.blurhash) {
      try {
        img.style.backgroundImage = 'url("' + painted(img.dataset.blurhash, img) + '")';
        img.style.backgroundSize = "cover"; // as the picture's own box: a crop of it shows the same part
        img.style.backgroundPosition = "center";
      } catch (error) {
        img.dataset.placeholder = "colour"; // a malformed hash: the colour alone
      }
    }
    img.addEventListener("load", () => clear(img), { once: true });
    if (img.complete && img.naturalWidth > 0) clear(img); // it arrived while this ran
  }

  function paintWithin(root) {
    if (root.matches && root.matches(SELECTOR)) paint(root);
    if (root.querySelectorAll) root.querySelectorAll(SELECTOR).forEach(paint);
  }

  paintWithin(document);
  new MutationObserver((changes) => {
    for (const change of changes) change.addedNodes.forEach(paintWithin);
  }).observe(document.documentElement, { childList: true, subtree: true });

  window.darkroomPlaceholders = { decode: decode, paint: paint };
})();
