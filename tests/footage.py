"""Small media files that reproduce real camera and phone footage, made with PyAV (no ffmpeg command
line is needed), for tests of the media reader (t2vz_desktop/media/reader.py) and what builds on it.

Each function writes one file (containers() several) into the folder it is given and returns its
path; its docstring says what is in the file and the values a correct reader gives: the test oracle.
The values "read back" were checked with PyAV 18.1 / FFmpeg 8 (libavformat 62.12).

Conventions, so a test can check picture/sound sync:
- the picture is mid-grey (RGB 128, decoded back within +-2 of it);
- a "flash" is one fully white frame (255, decoded back >= 250) at the stated time;
- a "beep" is a 1 kHz sine at amplitude 0.5 lasting 0.2 s from the stated time, silence elsewhere;
- sound is AAC, mono, 48 kHz (an AAC decoder gives 1024 samples of priming before the first sample
  unless the container trims them, which MP4 does and MPEG-TS does not).
All of them together are made in about 0.2 s on two cores (each tiny encoder runs on one thread).
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Callable, Sequence
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

GREY, WHITE, RED = (128, 128, 128), (255, 255, 255), (255, 0, 0)
RATE = 48_000  # audio samples per second
BEEP_HZ, BEEP_AMPLITUDE, BEEP_S = 1000, 0.5, 0.2


def picture(width: int, height: int, colour: Sequence[int] = GREY) -> np.ndarray:
    """One uint8 RGB (height, width, 3) frame of a single colour."""
    return np.full((height, width, 3), colour, np.uint8)


def beep(seconds: float, at_s: float | None) -> np.ndarray:
    """`seconds` of float32 mono sound at RATE: silence, and the beep from `at_s` (None: no beep)."""
    t = np.arange(round(seconds * RATE)) / RATE
    if at_s is None:
        return np.zeros_like(t, np.float32)
    on = (t >= at_s) & (t < at_s + BEEP_S)
    return np.where(on, BEEP_AMPLITUDE * np.sin(2 * np.pi * BEEP_HZ * (t - at_s)), 0).astype(np.float32)


def flashing(
    width: int, height: int, times: Sequence[float], flash_s: float
) -> list[tuple[float, np.ndarray]]:
    """(time, frame) pairs: grey frames at `times`, the one at `flash_s` white."""
    return [(t, picture(width, height, WHITE if abs(t - flash_s) < 1e-6 else GREY)) for t in times]


def _write(
    path: Path,
    frames: Sequence[tuple[float, np.ndarray]],
    *,
    end_s: float,
    rate: Fraction | int,
    time_base: Fraction,
    codec: str = "libx264",
    pix_fmt: str = "yuv420p",
    options: dict[str, str] | None = None,
    fmt: str | None = None,
    container_options: dict[str, str] | None = None,
    audio: tuple[float, float, float | None] | None = None,
    setup: Callable[[av.video.stream.VideoStream], None] | None = None,
) -> Path:
    """Encode `frames` ((time s, RGB image); the last one lasts until `end_s`) and, given
    audio=(start s, seconds, beep at s of the sound), a mono AAC track; pts are set from the times."""
    pts = [round(t / time_base) for t, _ in frames]
    durations = dict(zip(pts, np.diff(pts + [round(end_s / time_base)]).tolist()))
    height, width = frames[0][1].shape[:2]
    with av.open(str(path), "w", format=fmt, container_options=container_options or {}) as box:
        video = box.add_stream(codec, rate=rate)
        video.width, video.height, video.pix_fmt = width, height, pix_fmt
        video.codec_context.time_base = time_base
        # One thread: for frames this small, x264's frame threads cost more than they save. (PyAV
        # ignores an option the codec does not know: x264's B-frame count is "bf", not "bframes".)
        video.options = {"threads": "1", **(options or {})} if codec == "libx264" else options or {}
        if setup:
            setup(video)
        if audio:
            sound = box.add_stream("aac", rate=RATE, layout="mono")
            start, seconds, beep_at = audio
            samples = beep(seconds, beep_at)
            for k in range(0, len(samples), 1024):
                frame = av.AudioFrame.from_ndarray(samples[None, k:k + 1024], format="fltp", layout="mono")
                frame.sample_rate, frame.time_base = RATE, Fraction(1, RATE)
                frame.pts = round(start * RATE) + k
                box.mux(sound.encode(frame))
            box.mux(sound.encode(None))

        def mux(packets: list[av.Packet]) -> None:
            for packet in packets:
                # Encoders drop frame durations; without them the last frame would last 0 s.
                packet.duration = durations.get(packet.pts, packet.duration)
            box.mux(packets)

        for p, (_, image) in zip(pts, frames):
            if pix_fmt == "pal8":  # a grey palette, so grey 128 and white stay exact
                ramp = np.arange(256, dtype=np.uint8)
                palette = np.stack([np.full(256, 255, np.uint8), ramp, ramp, ramp], axis=1)
                frame = av.VideoFrame.from_ndarray((image[..., 0].copy(), palette), format="pal8")
            else:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.time_base, frame.pts = time_base, p
            mux(video.encode(frame))
        mux(video.encode(None))
    return path


# --- rotation -------------------------------------------------------------------------------


def rotated(folder: Path, degrees: int, hflip: bool = False, vflip: bool = False) -> Path:
    """rotate{degrees}[_hflip][_vflip].mp4: H.264 coded 96 wide x 64 tall, 8 fps, 8 frames (1.0 s), no
    sound; a red (255, 0, 0) bar in coded rows 0-11 (the top edge), the rest grey. The MP4 track
    matrix (display matrix) is PyAV's set_display_rotation(degrees, hflip, vflip).

    Read back (`next(av.open(p).decode(video=0)).rotation`, stored matrix a b 0 / c d 0 in 16.16):
    | written            | .rotation | matrix a, b, c, d | as the ffmpeg command line shows it      |
    | 0                  | 0         | none stored       | 96x64, bar along the top                 |
    | 90                 | 90        | 0, -1, 1, 0       | 64x96, bar down the left (columns 0-11)  |
    | 180                | -180      | -1, 0, 0, -1      | 96x64, bar along the bottom (rows 52-63) |
    | 270 (same as -90)  | -90       | 0, 1, -1, 0       | 64x96, bar down the right (cols 52-63)   |
    | 0, hflip           | -180      | -1, 0, 0, 1       | 96x64, bar along the top (mirrored)      |
    | 0, vflip           | 0         | 1, 0, 0, -1       | 96x64, bar along the bottom              |
    | 0, hflip, vflip    | -180      | -1, 0, 0, -1      | 96x64, bar along the bottom              |
    | 90, hflip          | 90        | 0, -1, -1, 0      | 64x96, bar down the right                |
    | 90, vflip          | -90       | 0, 1, 1, 0        | 64x96, bar down the left                 |
    | 270, hflip         | -90       | 0, 1, 1, 0        | 64x96, bar down the left                 |
    | 270, vflip         | 90        | 0, -1, -1, 0      | 64x96, bar down the right                |
    displayed_bar_side() gives the last column for any combination, from the matrix in the file.
    The displayed size is the coded size with width and height swapped when |rotation| is 90.
    """
    name = f"rotate{degrees}{'_hflip' if hflip else ''}{'_vflip' if vflip else ''}.mp4"
    image = picture(96, 64)
    image[:12] = RED
    return _write(
        folder / name, [(i / 8, image) for i in range(8)], end_s=1.0, rate=8, time_base=Fraction(1, 8),
        setup=lambda s: s.set_display_rotation(degrees, hflip=hflip, vflip=vflip),
    )


def display_matrix(path: Path) -> np.ndarray | None:
    """The 3x3 display matrix (int32, 16.16 fixed point, 2.30 in the last column) on the first
    decoded frame of `path`, as stored; None when the file has none."""
    with av.open(str(path)) as box:
        frame = next(box.decode(video=0))
        for data in frame.side_data:
            if "DISPLAYMATRIX" in str(data.type):
                return np.frombuffer(bytes(data), "<i4").reshape(3, 3).copy()
    return None


def autorotate(image: np.ndarray, matrix: np.ndarray | None) -> np.ndarray:
    """`image` (rows, columns, ...) as the FFmpeg command line shows it (fftools ffmpeg_filter.c:
    the display matrix's angle to the nearest degree picks transpose/hflip/vflip filters)."""
    if matrix is None:
        return image
    m = matrix.reshape(-1) / 65536.0
    angle = -math.degrees(math.atan2(m[1] / math.hypot(m[1], m[4]), m[0] / math.hypot(m[0], m[3])))
    theta = -round(angle)  # get_rotation(): clockwise degrees in [0, 360)
    theta -= 360 * math.floor(theta / 360 + 0.9 / 360)
    transpose = {  # vf_transpose's directions, for an array indexed [row, column]
        "clock": lambda a: np.rot90(a, -1), "cclock": lambda a: np.rot90(a, 1),
        "cclock_flip": lambda a: a.swapaxes(0, 1), "clock_flip": lambda a: np.rot90(a, 2).swapaxes(0, 1),
    }
    if abs(theta - 90) < 1:
        return transpose["cclock_flip" if matrix.flat[3] > 0 else "clock"](image)
    if abs(theta - 270) < 1:
        return transpose["clock_flip" if matrix.flat[3] < 0 else "cclock"](image)
    if abs(theta - 180) < 1:
        image = image[:, ::-1] if matrix.flat[0] < 0 else image
        return image[::-1] if matrix.flat[4] < 0 else image
    if abs(theta) < 1:
        return image[::-1] if matrix.flat[4] < 0 else image
    raise ValueError(f"display matrix at {theta} degrees: not a quarter turn")


def displayed_bar_side(degrees: int, hflip: bool = False, vflip: bool = False) -> str:
    """Where rotated(degrees, hflip, vflip)'s red bar is once displayed: 'top', 'bottom', 'left' or
    'right'. Writes the file (to a temporary folder) and applies autorotate() to its stored matrix,
    so the oracle follows what the muxer really wrote, not what set_display_rotation meant."""
    with tempfile.TemporaryDirectory() as tmp:
        matrix = display_matrix(rotated(Path(tmp), degrees, hflip, vflip))
    bar = np.zeros((64, 96), bool)
    bar[:12] = True
    shown = autorotate(bar, matrix)
    sides = {"top": shown[0], "bottom": shown[-1], "left": shown[:, 0], "right": shown[:, -1]}
    return next(side for side, edge in sides.items() if edge.all())


# --- timestamps -----------------------------------------------------------------------------


def transport_stream(folder: Path, suffix: str = ".ts", start_s: float = 1.4) -> Path:
    """camcorder{suffix}: MPEG-TS (for .m2ts/.mts: BDAV M2TS, 192-byte packets, as AVCHD camcorders
    write), 64x48 H.264 at 10 fps, 20 frames, plus 2.0 s of AAC mono 48 kHz; every timestamp offset
    by `start_s` (the camera's clock): frame i at start_s + i/10 s, sound from start_s. The flash is
    frame 10 (clip time 1.0 s, absolute start_s + 1.0), the beep at clip time 1.0 s.

    Read back with PyAV (default start_s=1.4; the API-driven muxer adds no mux delay, unlike the
    ffmpeg command line's 1.4 s): video stream start_time * time_base = 1.4 exactly (time base
    1/90000); audio start_time 1.4 - 1024/48000 = 1.3787 s (the AAC encoder's priming, which MPEG-TS
    does not trim; decoding gives 2.0267 s: 1024 priming samples, the 2.0 s, 256 samples of padding);
    container start_time 1.3787 s, duration 2.0267 s. .m2ts: 36,864 bytes = 192 packets of 192 bytes,
    0x47 at byte 4. A correct reader counts 20 frames, puts frame 0 at clip time 0 and the flash at
    1.0 s, and the beep at 1.0 s of the same clock: 1.0213 s after the first decoded sample, whose
    time is 1.3787 s (the beep's first sample above 0.1 is decoded sample 49,026).
    """
    m2ts = suffix.lower() in (".m2ts", ".mts")
    times = [start_s + i / 10 for i in range(20)]
    return _write(
        folder / f"camcorder{suffix}", flashing(64, 48, times, start_s + 1.0), end_s=start_s + 2.0,
        rate=10, time_base=Fraction(1, 90_000), fmt="mpegts", audio=(start_s, 2.0, 1.0),
        container_options={"mpegts_m2ts_mode": "1"} if m2ts else None,
    )


def edit_list(folder: Path) -> Path:
    """bframes_editlist.mp4: 64x48 H.264 with B-frames (bf=2, so decode order differs from
    display order and the first DTS is negative; the muxer writes composition offsets (ctts) and an
    edit list that hides the negative start), 10 fps, 20 frames, 2.0 s; flash on frame 10 (1.0 s);
    2.0 s of AAC mono with the beep at 1.0 s.

    Read back with PyAV: video time base 1/10240, start_time 0 (first decoded frame pts 0, time
    0.0); demuxed (pts, dts) start (0, -1024), (3072, 0), (1024, 1024), (2048, 2048): DTS -0.1 s;
    decoded picture types I B B P B B P ...; audio start_time 0 (the edit list also trims the
    AAC priming; 2.0053 s decode, the last frame's padding untrimmed), beep 1.000 s into it;
    20 frames, duration 2.0 s. A correct reader gives frame 10 white and frames in display order.
    """
    return _write(
        folder / "bframes_editlist.mp4", flashing(64, 48, [i / 10 for i in range(20)], 1.0), end_s=2.0,
        rate=10, time_base=Fraction(1, 10), options={"bf": "2", "b-pyramid": "none"}, audio=(0, 2.0, 1.0),
    )


def delayed_video(folder: Path, delay_s: float = 0.3) -> Path:
    """video_delayed.mp4: 64x48 H.264 at 10 fps whose first frame is at `delay_s` (a screen or
    game recorder that starts the sound first): frames at delay_s + i/10 until 2.0 s (17 frames for
    0.3), the flash on the frame at 1.0 s (absolute; frame 7 for 0.3); 2.0 s of AAC mono from 0 with
    the beep at 1.0 s. The mov muxer stores the delay as an empty edit in the video's edit list.

    Read back with PyAV (delay_s=0.3): video start_time * time_base = 0.3 (time base 1/16000; first
    decoded frame pts 4800, time 0.3), video duration 1.7 s, average_rate 10, 17 frames; audio
    start_time 0, beep 1.000 s after its first decoded sample; container start 0, duration 2.0 s.
    A correct reader either starts the clip at 0.3 s (17 frames, flash on frame 7, beep 0.7 s into
    the clip) or shows the first frame for the first 0.3 s; either way the flash and the beep are
    together.
    """
    times = [round(delay_s + i / 10, 6) for i in range(round((2.0 - delay_s) * 10))]
    return _write(
        folder / "video_delayed.mp4", flashing(64, 48, times, 1.0), end_s=2.0, rate=10,
        time_base=Fraction(1, 1000), audio=(0, 2.0, 1.0),
    )


def vfr(folder: Path) -> Path:
    """vfr_5_25.mp4: variable frame rate, 64x48 H.264, time base 1/1000: 5 frames at 5 fps (0.0-0.8
    s) then 25 frames at 25 fps (1.0-1.96 s); the flash on the frame at 1.0 s (frame 5); 2.0 s of
    AAC mono with the beep at 1.0 s.

    Read back with PyAV: video start_time 0, duration 2.0 s, stream.frames 30, average_rate 375/29
    (12.9: no real frame rate), guessed_rate 25; audio start 0, beep 1.000 s in.
    A correct reader gives 30 frames, duration 2.0 s; resampled to 25 fps: 50 frames with the flash
    on frame 25 (each of the first 25 is a 5 fps frame repeated 5 times).
    """
    times = [i / 5 for i in range(5)] + [1 + i / 25 for i in range(25)]
    return _write(
        folder / "vfr_5_25.mp4", flashing(64, 48, times, 1.0), end_s=2.0, rate=15,  # 30 frames / 2 s
        time_base=Fraction(1, 1000), audio=(0, 2.0, 1.0),
    )


def long_matroska(folder: Path, seconds: int = 600, fps: int = 2) -> Path:
    """long_{seconds}s.mkv: a long Matroska recording kept tiny: 64x48 H.264, `fps` frames a second
    for `seconds` (1,200 frames for the default 10 minutes), a keyframe every 2 s and none between,
    no sound. Matroska keeps no frame count in its header (stream.frames is 0), only the duration.
    Frame i is a uniform picture of grey level 16 + (i * 7) % 224, so a reader can tell which frame
    (modulo 32) it got from the mean, +-3.

    Read back with PyAV (defaults): 103 KB, made in 0.04 s; container duration 600.0 s, stream
    duration None, frames 0, average_rate 2, start 0; 300 keyframes (packets 0, 4, 8, ...); the
    decoded means are exactly 16, 23, 30, ... A correct reader gives seconds * fps frames, fps frames
    per second, duration `seconds`; frame i at i / fps s.
    """
    levels = [16 + (i * 7) % 224 for i in range(32)]
    images = [picture(64, 48, (v, v, v)) for v in levels]
    return _write(
        folder / f"long_{seconds}s.mkv", [(i / fps, images[i % 32]) for i in range(seconds * fps)],
        end_s=seconds, rate=fps, time_base=Fraction(1, fps),
        options={"preset": "ultrafast", "qp": "4", "g": str(2 * fps), "keyint_min": str(2 * fps)},
    )


# --- containers -----------------------------------------------------------------------------


def containers(folder: Path) -> list[Path]:
    """clip.<ext> in each container a user brings: the same 1.0 s, 64x48, 8 fps clip of 8 grey
    frames with the flash on frame 4 (0.5 s); no sound.

    | file     | format, codec                  | notes                                                 |
    | clip.avi | avi, mpeg4                     | AVI has no B-frame timestamps; none are used          |
    | clip.m4v | ipod, h264                     | the iTunes MP4 flavour                                |
    | clip.mpg | mpeg (MPEG-PS), mpeg2video     | 8 fps stored as 24 * 1/3 (MPEG-2 frame rate ext.);    |
    |          |                                | starts at 0.625 s (0.5 s mux preload; DTS 0.5 s);     |
    |          |                                | FFmpeg's duration estimate reads 0.875 s, not 1.0     |
    | clip.3gp | 3gp, h264                      |                                                       |
    | clip.webm| webm, libvpx-vp9               |                                                       |
    | clip.mkv | matroska, h264                 | no frame count in the header                          |
    | clip.mov | mov, h264                      |                                                       |
    | clip.gif | gif, pal8 (a 256-grey palette) | delays are in 1/100 s: frames last 12 or 13 cs        |
    All could be written with this PyAV/FFmpeg build. Read back with PyAV: start_time 0 (clip.mpg
    0.625 s), duration 1.0 s (clip.mpg 0.875 s), average_rate 8 (clip.gif 25/3: its frames last
    0.12/0.13 s, at 0, .12, .25, .38, .5, .62, .75, .88 s). A correct reader gives 8 frames, 8 fps,
    64x48, frame 4 white and the others grey 128 (GIF exactly; all decode to 128/255 here).
    """
    frames = flashing(64, 48, [i / 8 for i in range(8)], 0.5)
    vp9 = {"deadline": "realtime", "cpu-used": "8", "crf": "10", "b": "0"}
    return [
        _write(
            folder / f"clip.{ext}", frames, end_s=1.0, rate=8, codec=codec, options=options, fmt=fmt,
            pix_fmt="pal8" if codec == "gif" else "yuv420p",
            time_base=Fraction(1, 100) if codec == "gif" else Fraction(1, 8),  # GIF counts 1/100 s
            # Small packs, about one frame each as in real program streams; in one 2 KiB pack
            # FFmpeg finds only one timestamp and guesses the duration as 0.125 s.
            container_options={"packetsize": "256"} if fmt == "mpeg" else None,
        )
        for ext, fmt, codec, options in [
            ("avi", "avi", "mpeg4", None), ("m4v", "ipod", "libx264", None),
            ("mpg", "mpeg", "mpeg2video", None), ("3gp", "3gp", "libx264", None),
            ("webm", "webm", "libvpx-vp9", vp9), ("mkv", "matroska", "libx264", None),
            ("mov", "mov", "libx264", None), ("gif", "gif", "gif", None),
        ]
    ]
