"""Stream frames to MP4 (H.264), WebM (VP9), GIF or a PNG folder, with the recipe kept.

Atomic, pairs included: a video and its sidecar recipe (or several videos of one job) are written
under temp names and put in place in one step by atomic.AtomicGroup, so a kill at any moment
leaves the earlier export or the new one; see atomic.py for how, and for what a kill leaves.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from .atomic import AtomicGroup, settle, temp_sibling
from .audio import Sound, add_audio_stream, audio_packets
from .reader import PNG_FRAME, MediaError, read_metadata

FORMATS = ("mp4", "webm", "gif", "png")
GIF_MAX_FPS = 50  # a 2/100 s delay; browsers play shorter ones at 1/10 s
GIF_TIME_BASE = Fraction(1, 100)  # GIF delays are in 1/100 s
# MP4 (mov muxer) drops custom tags unless movflags=use_metadata_tags; "comment" is a standard
# tag that both MP4 and WebM keep (WebM reads it back as "COMMENT") and that players show.
RECIPE_TAG = "comment"
RECIPE_FILE = "recipe.json"  # the sidecar inside a PNG folder


@dataclass
class ExportOptions:
    fps: float = 8.0
    format: str | None = None  # mp4, webm, gif, png; None: from the suffix (none: PNG folder)
    crf: int = 18  # quality for mp4/webm, lower is better
    upscale: float = 1.0  # Lanczos resize factor applied to every frame
    metadata: str | None = None  # the recipe (JSON text), embedded and written as a sidecar
    audio: Sound | None = None  # sound to mux in (MP4, WebM), kept in sync, cut at the video's end


@dataclass
class ExportReport:
    path: Path
    format: str
    frames: int
    width: int  # as written, after upscale and padding
    height: int
    fps: float  # as stored (GIF: at most 50)
    sidecar: Path | None = None
    notes: list[str] = field(default_factory=list)


def export_format(path: str | os.PathLike[str], fmt: str | None = None) -> str:
    """The format used for `path`: `fmt` if given, else the suffix; no suffix or a trailing / is PNG.
    ValueError for an unknown format, or a `fmt` that another format's suffix contradicts (WebM
    written into "clip.mp4" opens in nothing that trusts the name)."""
    text = os.fspath(path)
    suffix = Path(text).suffix.lower().lstrip(".")
    if fmt is None:
        fmt = "png" if text.endswith(("/", os.sep)) or not suffix else suffix
    elif suffix in FORMATS and suffix != fmt:
        raise ValueError(f"cannot export {path} as {fmt}: the name says {suffix}; name it for {fmt} or leave the "
                         "format to the name")
    elif fmt != "png" and text.endswith(("/", os.sep)):  # a folder's name: one file there would be named "folder"
        raise ValueError(f"cannot export {path} as {fmt}: a name ending in / is a folder, which holds PNG frames; "
                         f"give a file name (e.g. {text.rstrip('/' + os.sep)}.{fmt})")
    if fmt not in FORMATS:
        known = ", ".join(FORMATS)
        raise ValueError(f"cannot export {path}: unknown format {fmt!r}, use one of {known}")
    return fmt


def export_video(
    frames: Iterable[np.ndarray], path: str | os.PathLike[str], options: ExportOptions | None = None
) -> ExportReport:
    """Write uint8 RGB frames (H, W, 3), pulled one at a time. The video and its sidecar recipe
    appear together under their final names or not at all (atomic.py); on an error or a kill the
    earlier export at `path`, if any, stays whole."""
    with AtomicGroup() as group:
        report = write_export(frames, path, options, group)
    return report


def write_export(
    frames: Iterable[np.ndarray], path: str | os.PathLike[str], options: ExportOptions | None, group: AtomicGroup
) -> ExportReport:
    """`export_video` into temp names of `group`, which puts them in place when committed; several
    calls into one group make several videos that appear all together."""
    opts = options or ExportOptions()
    fmt = export_format(path, opts.format)
    path = Path(path)
    if opts.fps <= 0 or opts.upscale <= 0:
        raise ValueError(f"fps and upscale must be positive, got fps={opts.fps} upscale={opts.upscale}")
    check_target(path, fmt)
    sidecar = None
    if opts.metadata is not None:
        sidecar = path / RECIPE_FILE if fmt == "png" else path.with_suffix(".json")
        if sidecar == path:
            raise ValueError(f"cannot export {path}: its recipe sidecar would overwrite it")

    it = iter(frames)
    first = next(it, None)
    if first is None:
        raise ValueError("no frames to export")
    shape = _checked(first, 0, None).shape
    in_h, in_w = shape[:2]
    width, height = max(1, round(in_w * opts.upscale)), max(1, round(in_h * opts.upscale))
    notes = [] if opts.upscale == 1 else [f"upscaled {in_w}x{in_h} to {width}x{height} (Lanczos)"]
    pad_h, pad_w = (height % 2, width % 2) if fmt == "mp4" else (0, 0)
    if pad_h or pad_w:
        notes.append(f"padded {width}x{height} to {width + pad_w}x{height + pad_h} for yuv420p")

    rate, rate_notes = _stored_rate(fmt, opts.fps)
    notes += rate_notes

    def prepared(frame: np.ndarray) -> np.ndarray:
        if opts.upscale != 1:
            frame = cv2.resize(frame, (width, height), interpolation=cv2.INTER_LANCZOS4)
        if pad_h or pad_w:  # replicate the edge so the extra row/column matches its neighbour
            frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
        return frame

    temp = group.temp_for(path)
    temp_sidecar = group.temp_for(sidecar) if sidecar and fmt != "png" else None
    if sidecar is None and fmt != "png" and _is_own_recipe(path.with_suffix(".json")):
        # An earlier export's recipe beside a video it no longer describes would be read back as
        # the new video's (read_recipe falls back to the sidecar), so it goes in the same step.
        group.remove_on_commit(path.with_suffix(".json"))
    writer: _PngWriter | _AvWriter
    if fmt == "png":
        writer = _PngWriter(temp)
    else:
        writer = _AvWriter(temp, fmt, width + pad_w, height + pad_h, rate, opts)
    try:
        writer.write(prepared(first))
        for frame in it:
            writer.write(prepared(_checked(frame, writer.count, shape)))
    except BaseException:  # a cancel (KeyboardInterrupt, custom exception) must close it too
        writer.close(flush=False)  # the temp file must be closed before it is deleted
        raise
    writer.close()
    if sidecar is not None:
        (temp_sidecar or temp / RECIPE_FILE).write_text(opts.metadata, encoding="utf-8")
    size = (width + pad_w, height + pad_h)
    return ExportReport(path, fmt, writer.count, *size, float(rate), sidecar, notes)


def read_recipe(path: str | os.PathLike[str]) -> str | None:
    """The recipe embedded in the video, else the one in its sidecar; None if there is neither."""
    path = Path(path)
    _settle_quietly(path)  # an export cut short between its video and its sidecar is finished first
    if path.is_dir():
        sidecar = path / RECIPE_FILE
    else:
        try:
            embedded = read_metadata(path).get(RECIPE_TAG)
        except MediaError:
            embedded = None
        if embedded is not None and _is_json(embedded):  # other tools write plain-text comments
            return embedded
        sidecar = path.with_suffix(".json")
    return sidecar.read_text(encoding="utf-8") if sidecar.is_file() else None


def encoder_options(fmt: str, width: int, height: int, crf: int) -> dict[str, str]:
    """libx264 (mp4) or libvpx-vp9 (webm) options for frames of width x height px at quality crf.
    Every MP4 and WebM the product writes (export, the timeline's render) uses these, so the same
    frames give the same pictures in any process. ValueError for another format.

    threads=1: threaded x264 gave different files for the same frames (FACTS.md). bframes=0 below
    128x128 px: there x264's macroblock-tree rate control over B-frames reads memory it never
    wrote, so after a generation the same frames decoded to different pixels from run to run at
    64x64, 48x80 and 96x96 (b-adapt=0, the earlier fix, was not enough). With no B-frames five runs
    in fresh processes were identical at each of those sizes and at 32x32 x 40 frames, and the files
    came out 0.4% larger to 6% smaller. mbtree=0 also fixes it but made the files 50% larger and
    still scenes flicker by a level (test_measure). From 128x128 px (and at 256x64) the default
    B-frames measured identical run to run, and they save bits on real-size video.
    WebM: b=0 makes crf constant quality instead of a bit-rate cap.
    """
    if fmt == "mp4":
        params = "threads=1" if width * height >= 128 * 128 else "threads=1:bframes=0"
        return {"crf": str(crf), "x264-params": params}
    if fmt == "webm":
        return {"crf": str(crf), "b": "0", "row-mt": "1"}
    raise ValueError(f"no encoder options for {fmt!r}")


def add_video_stream(container: av.container.OutputContainer, fmt: str, width: int, height: int, rate: Fraction,
                     crf: int) -> av.VideoStream:
    """The video stream of an MP4 (H.264) or WebM (VP9) file the product writes: yuv420p at
    width x height px, `rate` frames a second, encoded with `encoder_options`."""
    stream = container.add_stream({"mp4": "libx264", "webm": "libvpx-vp9"}[fmt], rate=rate)
    stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
    stream.options = encoder_options(fmt, width, height, crf)
    return stream


class _AvWriter:
    """One PyAV output container with one video stream."""

    def __init__(
        self, file: Path, fmt: str, width: int, height: int, rate: Fraction, opts: ExportOptions
    ):
        # faststart puts the index first, so a browser can play the MP4 while downloading it.
        muxer_options = {"movflags": "+faststart"} if fmt == "mp4" else {}
        # Our own file object, not a path: when FFmpeg fails to write the header (a full disk)
        # PyAV never closes a file it opened itself, and each failed export leaked a descriptor.
        self.file = open(file, "wb")
        self.audio = None
        try:
            self.container = av.open(self.file, "w", format=fmt, options=muxer_options)
        except BaseException:
            self.file.close()
            raise
        self.time_base = 1 / rate
        self.count = 0
        self.gif_palette: _GifPalette | None = None
        try:
            if opts.metadata is not None and fmt != "gif":  # GIF has no place for tags
                self.container.metadata[RECIPE_TAG] = opts.metadata
            if fmt == "gif":
                self.stream = self.container.add_stream("gif", rate=rate)
                self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "pal8"
                self.stream.codec_context.time_base = GIF_TIME_BASE
                # Each frame has its own palette, so equal palette indices in consecutive frames
                # are not equal colours: the encoder's default of storing only the changed
                # rectangle (offsetting, transdiff) dropped whole frames (a white flash stayed
                # on screen, a clip after a black gap never appeared). Store every frame whole.
                self.stream.options = {"gifflags": "-offsetting-transdiff"}
                self.gif_palette = _GifPalette(width, height, GIF_TIME_BASE)
            else:
                self.stream = add_video_stream(self.container, fmt, width, height, rate, opts.crf)
            if opts.audio is not None and fmt in ("mp4", "webm"):
                audio_stream = add_audio_stream(self.container, fmt, opts.audio)
                self.audio = audio_packets(audio_stream, opts.audio)
                self.pending: av.Packet | None = None
        except BaseException:
            self.close(flush=False)
            raise

    def write(self, frame: np.ndarray) -> None:
        video_frame = av.VideoFrame.from_ndarray(frame, format="rgb24")
        if self.gif_palette:
            video_frame.pts, video_frame.time_base = _gif_pts(self.count, 1 / self.time_base), GIF_TIME_BASE
        else:
            video_frame.pts, video_frame.time_base = self.count, self.time_base
        self.count += 1
        self._encode(self.gif_palette.push(video_frame) if self.gif_palette else [video_frame])
        self._mux_audio(until_s=float(self.count * self.time_base))

    def _mux_audio(self, until_s: float | None) -> None:
        """Interleave the sound up to the video written so far (None: to its end), so neither
        stream runs far ahead in the file."""
        if self.audio is None:
            return
        while True:
            packet = self.pending if self.pending is not None else next(self.audio, None)
            self.pending = None
            if packet is None:
                self.audio = None
                return
            start = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
            if until_s is not None and start >= until_s:
                self.pending = packet
                return
            self.container.mux(packet)

    def close(self, flush: bool = True) -> None:
        """Finish the file (flush=True) and close it, the audio source and the file descriptor,
        whatever fails on the way."""
        try:
            if flush and self.count:  # an encoder is only opened by its first frame
                self._encode(self.gif_palette.push(None) if self.gif_palette else [])
                self.container.mux(self.stream.encode(None))
                self._finish_audio()
        finally:
            try:
                try:
                    self.container.close()
                finally:
                    if self.audio is not None:  # the source's container, open in the generator
                        self.audio.close()
                        self.audio = None
            finally:
                self.file.close()

    def _finish_audio(self) -> None:
        """The rest of the sound, cut at the end of the video."""
        end = float(self.count * self.time_base)
        while self.audio is not None:
            packet = self.pending if self.pending is not None else next(self.audio, None)
            self.pending = None
            if packet is None or (packet.pts is not None and float(packet.pts * packet.time_base) >= end):
                self.audio = None
                return
            self.container.mux(packet)

    def _encode(self, frames: list[av.VideoFrame]) -> None:
        for video_frame in frames:
            self.container.mux(self.stream.encode(video_frame))


class _GifPalette:
    """FFmpeg's palettegen/paletteuse, one palette per frame: far truer colours than fixed rgb8."""

    def __init__(self, width: int, height: int, time_base: Fraction):
        # Keep the graph referenced: its filter contexts do not, and pushing into a freed graph
        # crashes the interpreter.
        self.graph = graph = av.filter.Graph()
        self.source = graph.add_buffer(width=width, height=height, format="rgb24", time_base=time_base)
        split = graph.add("split")
        generate = graph.add("palettegen", "stats_mode=single")
        use = graph.add("paletteuse", "new=1")
        self.sink = graph.add("buffersink")
        self.source.link_to(split)
        split.link_to(use, 0, 0)
        split.link_to(generate, 1, 0)
        generate.link_to(use, 0, 1)
        use.link_to(self.sink)
        graph.configure()

    def push(self, frame: av.VideoFrame | None) -> list[av.VideoFrame]:
        """Feed one frame (None at the end) and take the pal8 frames that are ready."""
        self.source.push(frame)
        ready = []
        while True:
            try:
                ready.append(self.sink.pull())
            except (av.BlockingIOError, av.EOFError):
                return ready


class _PngWriter:
    def __init__(self, folder: Path):
        folder.mkdir()
        self.folder = folder
        self.count = 0

    def write(self, frame: np.ndarray) -> None:
        file = self.folder / f"frame_{self.count:05d}.png"
        # imencode + write_bytes, because cv2.imwrite cannot open non-ASCII paths on Windows.
        ok, data = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        if not ok:
            raise OSError(f"could not encode PNG frame {self.count}")
        file.write_bytes(data.tobytes())
        self.count += 1

    def close(self, flush: bool = True) -> None:
        pass


def _stored_rate(fmt: str, fps: float) -> tuple[Fraction, list[str]]:
    """The frame rate the format can store, and a note when it differs from the one asked for."""
    rate = Fraction(fps).limit_denominator(1001)
    if fmt == "png":
        return rate, ["a PNG folder stores no frame rate"]
    if fmt != "gif" or rate <= GIF_MAX_FPS:
        # GIF stores each frame's delay in 1/100 s: delays of 3 and 4 (30 fps) keep every frame
        # on the clip's clock (_gif_pts), so the GIF lasts as long as the clip
        return rate, []
    note = (f"GIF frame delays under 2/100 s are slowed down by browsers: {fps:g} fps was stored as "
            f"{GIF_MAX_FPS} fps, so it plays {fps / GIF_MAX_FPS:.2f}x longer; export at {GIF_MAX_FPS} fps or less")
    return Fraction(GIF_MAX_FPS), [note]


def _gif_pts(index: int, rate: Fraction) -> int:
    """Presentation time of frame `index` in 1/100 s: the nearest to index / rate, so consecutive
    delays alternate (3, 4, 3, ... at 30 fps) and none drifts; FFmpeg's GIF muxer writes each
    frame's delay from these differences, and the last frame's as the one before it (its
    final_delay default), so a GIF lasts its clip's length within 1/100 s."""
    return round(index * 100 / rate)


def _checked(frame: np.ndarray, index: int, shape: tuple[int, ...] | None) -> np.ndarray:
    if not isinstance(frame, np.ndarray):
        raise ValueError(f"frame {index} is a {type(frame).__name__}, expected a numpy array")
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index} is {frame.dtype} {frame.shape}, expected uint8 RGB (H, W, 3)")
    if shape is not None and frame.shape != shape:
        got, expected = f"{frame.shape[1]}x{frame.shape[0]}", f"{shape[1]}x{shape[0]}"
        raise ValueError(f"frame {index} is {got}, expected {expected}")
    return np.ascontiguousarray(frame)


def refuse_overwriting_inputs(outputs: list[tuple[str, Path | str | None]],
                              inputs: list[tuple[str, Path | str | None]]) -> None:
    """ValueError when a file a command writes is one it reads, or another of its outputs: writing
    would destroy it (`edit --out` onto its own source replaced the user's video, `eval --json
    x.json --plot x.json` kept only the plot).

    outputs, inputs: (what it is, path) pairs, None paths skipped; name a video's recipe sidecar
    as an output of its own. An output without a suffix is a PNG-frame folder (export_format),
    which covers every file inside it."""
    def real(path) -> Path:
        return Path(os.path.realpath(Path(path).expanduser()))

    taken: dict[Path, str] = {}
    for what, path in inputs:
        if path is not None and str(path):
            taken.setdefault(real(path), f"{what} {path}")
    for what, path in outputs:
        if path is None:
            continue
        out = real(path)
        for other, role in taken.items():
            if out == other or (not out.suffix and other.is_relative_to(out)):
                raise ValueError(f"{what} {path} would overwrite {role}; choose another name")
        taken[out] = f"{what} {path}"


def check_target(path: Path, fmt: str) -> None:
    """Fail before any frame is generated, not after minutes of work."""
    parent = path.parent
    if not parent.is_dir():
        problem = "is not a folder" if parent.exists() else "does not exist"
        raise FileNotFoundError(f"cannot export to {path}: {parent} {problem}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"cannot export to {path}: folder {parent} is not writable")
    # Finish or clear what an export to this name that was killed left behind.
    for name in (path, path.with_suffix(".json")):
        settle(name)
    # os.access says yes to root everywhere; a real file tells about read-only file systems too.
    probe = temp_sibling(path)
    try:
        probe.touch(exist_ok=False)
    except OSError as e:
        raise PermissionError(f"cannot export to {path}: folder {parent} is not writable ({e.strerror})") from e
    probe.unlink(missing_ok=True)  # another thread's clean-up may have taken it already
    if fmt != "png" and path.is_dir():
        raise IsADirectoryError(f"cannot export to {path}: it is a folder")
    if fmt == "png" and path.exists():
        if not path.is_dir():
            raise FileExistsError(f"cannot export PNG frames to {path}: it is a file, not a folder")
        # Replace an earlier export, but never delete a folder holding other files.
        names = [p.name for p in path.iterdir()]
        foreign = [n for n in names if not (PNG_FRAME.match(n) or n == RECIPE_FILE)]
        if foreign:
            raise FileExistsError(
                f"cannot export PNG frames to {path}: the folder holds other files ({foreign[0]})"
            )


def _settle_quietly(path: Path) -> None:
    """`settle` for a reader: a read-only folder or a failed roll-forward must not stop a read."""
    for name in (path, path.with_suffix(".json")):
        try:
            settle(name)
        except OSError:
            pass


def refuse_sharing_a_recipe(path: Path, fmt: str) -> None:
    """ValueError (as refuse_overwriting_inputs) when writing `path` would replace the recipe sidecar of another video with
    its stem (x.gif's recipe is x.json, as x.mp4's is): `--recipe x.json` would then re-make the
    GIF, not the MP4 beside it. Replacing a video and its own pair stays allowed."""
    sidecar = path.with_suffix(".json")
    if fmt == "png" or path.exists() or not _is_own_recipe(sidecar):
        return
    # Any case: on Linux clip.MP4 is another file than clip.mp4, and both name clip.json.
    owner = next((p for p in sorted(path.parent.glob(glob.escape(path.stem) + ".*"))
                  if p != path and p.suffix.lower().lstrip(".") in FORMATS and p.suffix.lower() != ".png"
                  and p.is_file()), None)
    if owner is not None:
        raise ValueError(f"cannot export to {path}: its recipe {sidecar.name} is {owner.name}'s, which it would "
                              f"replace; give another name (e.g. {path.stem}-{fmt}{path.suffix})")


def _is_own_recipe(path: Path) -> bool:
    """Whether `path` is a t2vz recipe sidecar (a user's own .json is never touched)."""
    try:
        content = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None
    except (OSError, ValueError):
        return False
    return isinstance(content, dict) and "t2vz_recipe" in content


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True
