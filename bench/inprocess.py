"""The references for W2 and W4: the same render done in-process, the textbook Pillow way and by darkroom's
own transforms.pipeline.render. `python -m bench.inprocess peak …` measures one render's peak RSS growth in
a fresh process (W4)."""

from __future__ import annotations

import argparse
import gc
import io
import json
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageOps

# Darkroom's defaults (transforms/spec.py DEFAULT_QUALITY), so both sides aim at the same quality.
QUALITY = {"jpeg": 82, "webp": 80}
DRAFT_GAP = 2.0  # as Image.thumbnail(reducing_gap=2.0): decode at no less than twice the target
RESAMPLE = Image.Resampling.LANCZOS  # the filter and gap darkroom's operations use, so the work is the same
REDUCING_GAP = 3.0

Renderer = Callable[[bytes | Path, int, str], bytes]


def textbook(source: bytes | Path, width: int, fmt: str) -> bytes:
    """open → draft → exif_transpose → resize → save with Pillow's default encoder options."""
    image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
    turned = image.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    stored_w, stored_h = image.size
    upright_w, upright_h = (stored_h, stored_w) if turned else (stored_w, stored_h)
    scale = min(width / upright_w, 1.0)
    target = (max(1, round(upright_w * scale)), max(1, round(upright_h * scale)))
    stored_target = (target[1], target[0]) if turned else target
    image.draft("RGB", (int(stored_target[0] * DRAFT_GAP), int(stored_target[1] * DRAFT_GAP)))
    upright = ImageOps.exif_transpose(image)
    if upright.size != target:
        upright = upright.resize(target, RESAMPLE, reducing_gap=REDUCING_GAP)
    buf = io.BytesIO()
    upright.save(buf, fmt.upper(), quality=QUALITY[fmt])
    return buf.getvalue()


def darkroom(source: bytes | Path, width: int, fmt: str) -> bytes:
    """transforms.pipeline.render with the spec the view would build for `?w=<width>&fmt=<fmt>`."""
    from transforms.pipeline import render
    from transforms.spec import output_format, parse

    data = source if isinstance(source, bytes) else source.read_bytes()  # the view reads the file whole
    spec = parse([("w", str(width)), ("fmt", fmt)], max_side=8192)
    out_format, _ = output_format(spec, original_format="JPEG", has_alpha=False, accept="")
    return render(data, spec.for_output(out_format), out_format).data


def _anchor(source: bytes | Path, width: int, fmt: str) -> bytes:
    from bench.anchor import anchor  # bench.anchor imports bench.quality (scikit-image): only when rendering

    return anchor(source, width, fmt)


PIPELINES: dict[str, Renderer] = {"anchor": _anchor, "textbook": textbook, "darkroom": darkroom}


def status_kb(pid: int | str, field: str) -> int:
    """A `VmRSS`/`VmHWM` line of /proc/<pid>/status, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def reset_peak(pid: int | str) -> bool:
    """Set VmHWM back to the current RSS (Linux >= 4.0, own process or root); False where refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _peak_main(args: argparse.Namespace) -> None:
    renderer = PIPELINES[args.pipeline]
    warm = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 120, 150)).save(warm, "JPEG")
    renderer(warm.getvalue(), 32, args.fmt)  # load the decoder, encoder and (for darkroom) its modules
    gc.collect()
    reset = reset_peak("self")
    before_rss, before_hwm = status_kb("self", "VmRSS"), status_kb("self", "VmHWM")
    data = renderer(Path(args.source), args.width, args.fmt)
    after_hwm = status_kb("self", "VmHWM")
    growth = after_hwm - (before_rss if reset else before_hwm)
    print(json.dumps({"growth_kb": growth, "rss_kb": before_rss, "hwm_kb": after_hwm, "bytes": len(data)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    peak = sub.add_parser("peak", help="peak RSS growth of one render, as JSON on stdout")
    peak.add_argument("--pipeline", choices=sorted(PIPELINES), required=True)
    peak.add_argument("--source", required=True)
    peak.add_argument("--width", type=int, required=True)
    peak.add_argument("--fmt", choices=sorted(QUALITY), default="jpeg")
    _peak_main(parser.parse_args())


if __name__ == "__main__":
    main()
