"""Where the method sits on the scheduler's timeline, and the DDPM forward jump from T' to T.

Schedulers come in two families: DDIM/DPM-Solver keep latents as sqrt(a_t) x0 + sqrt(1-a_t) eps
("alpha space"); Euler-type keep x0 + sigma_t eps ("sigma space", init_noise_sigma > 1). The
method's formulas are written for the first; the helpers here give the right one for each.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class MotionSteps:
    """Step indices into the scheduler's timesteps: all frames restart at `restart` (T), the
    anchor is warped at `warp` (T'), which is later on the timeline."""

    restart: int
    warp: int


def motion_steps(timesteps: torch.Tensor, t_restart: int, t_warp: int,
                 alpha_bars: list[float] | None = None) -> MotionSteps:
    """Map T and T' to the nearest steps of this schedule, keeping T' at least one step after T.
    With one step there is no room between them: T' = T = the only step, so the anchor's noise
    itself is moved by the motion field and every frame is denoised once from there.

    `alpha_bars` (one per step, :func:`alpha_bar`): T never lands where it is 0, the first step
    of a zero-terminal-SNR schedule (Lin et al. 2023), since the jump from T' back to T would
    replace the warped anchor with pure noise and every frame would draw its own picture (2 steps
    on the demo model: the motion and a start image were lost). T then moves to the next step and,
    where T' has no later step to go to, T' = T: the frames start from the warped anchor itself."""
    ts = timesteps.double().cpu()
    n = len(ts)
    if n == 1:
        return MotionSteps(0, 0)
    if n < 1:
        raise ValueError("the method needs at least 1 denoising step")
    restart = int(torch.argmin((ts - t_restart).abs()))
    warp = int(torch.argmin((ts - t_warp).abs()))
    if warp <= restart:
        # Few steps put T and T' on one step: take the two nearest distinct ones.
        if restart + 1 < n:
            warp = restart + 1
        else:
            restart, warp = n - 2, n - 1
    if alpha_bars is not None and alpha_bars[restart] < PURE_NOISE:
        restart += 1
        warp = max(warp, min(restart + 1, n - 1))
    return MotionSteps(restart, warp)


# alpha_bar below this: the latent holds no picture (zero terminal SNR gives 0 under DDIM, and
# 1 / (1 + 4096^2) under Euler-type samplers, whose sigma there diffusers sets to 4096).
PURE_NOISE = 1e-6


def scheduler_motion_steps(scheduler, t_restart: int, t_warp: int) -> MotionSteps:
    """:func:`motion_steps` on a scheduler whose timesteps are set."""
    alpha_bars = [alpha_bar(scheduler, i) for i in range(len(scheduler.timesteps))]
    return motion_steps(scheduler.timesteps, t_restart, t_warp, alpha_bars)


def is_sigma_space(scheduler) -> bool:
    return float(getattr(scheduler, "init_noise_sigma", 1.0)) > 1.0


def alpha_bar(scheduler, step_index: int) -> float:
    """Cumulative alpha of the latent that enters step `step_index` (a_t in ALGORITHM.md)."""
    if is_sigma_space(scheduler):
        sigma = float(scheduler.sigmas[step_index])
        return 1.0 / (1.0 + sigma * sigma)
    t = int(scheduler.timesteps[step_index])
    return float(scheduler.alphas_cumprod[t])


def renoise(scheduler, latents: torch.Tensor, noise: torch.Tensor, steps: MotionSteps) -> torch.Tensor:
    """DDPM forward process from T' back to T, in the scheduler's own latent space."""
    if steps.restart == steps.warp:  # one step: nothing to jump (and 0/0 where a_T is 0, zero terminal SNR)
        return latents
    if is_sigma_space(scheduler):
        s_t = float(scheduler.sigmas[steps.restart])
        s_tp = float(scheduler.sigmas[steps.warp])
        return latents + (s_t**2 - s_tp**2) ** 0.5 * noise
    ratio = alpha_bar(scheduler, steps.restart) / alpha_bar(scheduler, steps.warp)
    return ratio**0.5 * latents + (1.0 - ratio) ** 0.5 * noise


def noise_scale(scheduler, step_index: int) -> float:
    """Standard deviation of a latent at this step whose content is unknown (x0 of unit variance)."""
    if is_sigma_space(scheduler):
        return (1.0 + float(scheduler.sigmas[step_index]) ** 2) ** 0.5
    return 1.0


def noised(scheduler, clean: torch.Tensor, noise: torch.Tensor, step_index: int) -> torch.Tensor:
    """A clean latent noised to the level that enters step `step_index`, in the scheduler's space."""
    if is_sigma_space(scheduler):
        return clean + float(scheduler.sigmas[step_index]) * noise
    a = alpha_bar(scheduler, step_index)
    return a**0.5 * clean + (1 - a) ** 0.5 * noise


def estimate_x0(scheduler, latents: torch.Tensor, model_output: torch.Tensor, step_index: int) -> torch.Tensor:
    """The model's current guess of the clean latent, for previews."""
    a = alpha_bar(scheduler, step_index)
    x = latents * a**0.5 if is_sigma_space(scheduler) else latents  # now alpha space
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return (x - (1 - a) ** 0.5 * model_output) / a**0.5
    if kind == "v_prediction":
        return a**0.5 * x - (1 - a) ** 0.5 * model_output
    return model_output  # "sample"


def model_output_for(scheduler, latents: torch.Tensor, x0: torch.Tensor, step_index: int) -> torch.Tensor:
    """The model output (of the scheduler's prediction type) that :func:`estimate_x0` reads as `x0`
    for these latents: how an option that changes the clean estimate hands it to the sampler."""
    a = alpha_bar(scheduler, step_index)
    x = latents * a**0.5 if is_sigma_space(scheduler) else latents  # now alpha space
    kind = scheduler.config.prediction_type
    if kind == "epsilon":
        return (x - a**0.5 * x0) / (1 - a) ** 0.5
    if kind == "v_prediction":
        return (a**0.5 * x - x0) / (1 - a) ** 0.5
    return x0  # "sample"


def snapshot(scheduler):
    """A copy of the scheduler at this step, to restart every frame from T later. Multistep
    solvers (DPM++) carry earlier model outputs; `expand_history` widens them to all frames."""
    return copy.deepcopy(scheduler)


def expand_history(scheduler, expand) -> None:
    """Apply `expand` (anchor-batch tensor -> all-frames tensor) to a multistep solver's memory."""
    outputs = getattr(scheduler, "model_outputs", None)
    if outputs is not None:
        scheduler.model_outputs = [None if o is None else expand(o) for o in outputs]
