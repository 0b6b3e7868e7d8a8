"""How well the embedded model draws what it is asked: generate, then rank training pictures by distance.

For each prompt one image is generated (DDIM, 25 trailing steps, fixed seed); every training picture is
ranked by mean squared pixel distance to it; a hit is when an expected emoji ranks first (top-1) or in
the first five (top-5). Used by `benchmarks/embedded_quality.py` and the model's tests.
"""

from __future__ import annotations

import random

import numpy as np
import torch

STEPS = 25
GUIDANCE = 7.5
SEED = 0

# Prompts as a learner types them, each with the emoji (lowercase Unicode names) that answer it.
NATURAL_PROMPTS: dict[str, list[str]] = {
    "a dog": ["dog face", "dog", "poodle", "guide dog"],
    "a cat": ["cat face", "cat"],
    "pizza": ["slice of pizza"],
    "a red heart": ["heavy black heart"],
    "a rocket": ["rocket"],
    "an apple": ["red apple", "green apple"],
    "the sun": ["black sun with rays", "sun with face"],
    "a burger": ["hamburger"],
    "a banana": ["banana"],
    "a smiley face": ["grinning face", "smiling face with smiling eyes", "slightly smiling face",
                      "smiling face with open mouth", "white smiling face"],
    "laughing": ["face with tears of joy", "rolling on the floor laughing", "smiling face with open mouth and tightly-closed eyes"],
    "a ghost": ["ghost"],
    "a pumpkin": ["jack-o-lantern"],
    "a christmas tree": ["christmas tree"],
    "a snowman": ["snowman", "snowman without snow"],
    "an umbrella": ["umbrella", "umbrella with rain drops", "closed umbrella"],
    "a car": ["automobile", "oncoming automobile", "racing car"],
    "a bike": ["bicycle"],
    "a plane": ["airplane", "small airplane"],
    "a house": ["house building", "house with garden"],
    "a crown": ["crown"],
    "a diamond": ["gem stone"],
    "a birthday cake": ["birthday cake"],
    "a donut": ["doughnut"],
    "a cup of coffee": ["hot beverage"],
    "a four leaf clover": ["four leaf clover"],
    "a sunflower": ["sunflower"],
    "a rose": ["rose"],
    "a cactus": ["cactus"],
    "a palm tree": ["palm tree"],
    "fire": ["fire"],
    "lightning": ["high voltage sign", "cloud with lightning"],
    "a snowflake": ["snowflake"],
    "a rainbow": ["rainbow"],
    "the moon": ["crescent moon", "full moon symbol", "first quarter moon with face", "full moon with face"],
    "a star": ["white medium star", "glowing star"],
    "a whale": ["whale", "spouting whale"],
    "an octopus": ["octopus"],
    "a penguin": ["penguin"],
    "a frog": ["frog face"],
    "a monkey": ["monkey face", "monkey", "see-no-evil monkey"],
    "a unicorn": ["unicorn face"],
    "a tiger": ["tiger face", "tiger"],
    "a panda": ["panda face"],
    "a pig": ["pig face", "pig"],
    "a turtle": ["turtle"],
    "a snake": ["snake"],
    "a bee": ["honeybee"],
    "a butterfly": ["butterfly"],
    "a football": ["soccer ball", "american football"],
    "a guitar": ["guitar"],
    "music": ["musical note", "multiple musical notes"],
    "a light bulb": ["electric light bulb"],
    "a present": ["wrapped present"],
    "a trophy": ["trophy"],
    "a teddy bear": ["teddy bear"],
    "a strawberry": ["strawberry"],
    "a carrot": ["carrot"],
    "a taco": ["taco"],
    "ice cream": ["ice cream", "soft ice cream"],
    "a robot": ["robot face"],
    "an alien": ["extraterrestrial alien", "alien monster"],
    "a skull": ["skull"],
    "thumbs up": ["thumbs up sign"],
}


def sample_captions(emoji, count: int = 50, seed: int = 0) -> list[tuple[str, list[str]]]:
    """`count` captions drawn at random (seeded) from the whole caption set, each with its emoji.

    A keyword can caption a few emoji ("justice": scales, judge); all of them count as its own.
    """
    owners: dict[str, list[str]] = {}
    for e in emoji:
        for caption in e.captions:
            owners.setdefault(caption, []).append(e.name)
    chosen = random.Random(seed).sample(sorted(owners), count)
    return [(caption, owners[caption]) for caption in chosen]


@torch.no_grad()
def generate(pipe, prompts: list[str], guidance: float = GUIDANCE, seed: int = SEED,
             batch: int = 64) -> np.ndarray:
    """One image per prompt, uint8 NxHxWx3; prompt i always gets the noise of seed + i, drawn on the CPU
    so that every device starts from the same noise (as precompute does)."""
    images = []
    for first in range(0, len(prompts), batch):
        chunk = prompts[first:first + batch]
        generators = [torch.Generator("cpu").manual_seed(seed + first + i) for i in range(len(chunk))]
        out = pipe(chunk, num_inference_steps=STEPS, guidance_scale=guidance, generator=generators,
                   output_type="np").images
        images.append((out * 255).round().astype(np.uint8))
    return np.concatenate(images)


def distances(images: np.ndarray, pictures: np.ndarray) -> torch.Tensor:
    """Pixel distance of every image to every picture (same order as mean squared distance)."""
    return torch.cdist(torch.from_numpy(images).flatten(1).float(), torch.from_numpy(pictures).flatten(1).float())


def ranks(images: np.ndarray, pictures: np.ndarray, expected: list[list[int]]) -> np.ndarray:
    """For each image, the best rank (0 = nearest) of any expected training picture."""
    order = distances(images, pictures).argsort(dim=1)
    position = torch.empty_like(order)
    position.scatter_(1, order, torch.arange(order.shape[1]).expand_as(order))
    return np.array([min(int(position[i, j]) for j in wanted) for i, wanted in enumerate(expected)])


def evaluate(pipe, emoji, pictures: np.ndarray, cases: list[tuple[str, list[str]]], guidance: float = GUIDANCE):
    """(top-1, top-5, generated images, ranks) for (prompt, expected names) cases."""
    index = {e.name: i for i, e in enumerate(emoji)}
    missing = sorted({n for _, names in cases for n in names if n not in index})
    if missing:
        raise ValueError(f"expected emoji not in the training set: {missing}")
    images = generate(pipe, [prompt for prompt, _ in cases], guidance)
    found = ranks(images, pictures, [[index[n] for n in names] for _, names in cases])
    return float((found < 1).mean()), float((found < 5).mean()), images, found


@torch.no_grad()
def denoising_strip(pipe, prompts: list[str], columns: int = 10, guidance: float = GUIDANCE) -> np.ndarray:
    """A row per prompt: the decoded latent x_t at `columns` evenly spaced steps, noise to picture."""
    rows = []
    for prompt in prompts:
        latents = []

        def keep(pipe, step, t, tensors):
            latents.append(tensors["latents"].clone())
            return tensors

        pipe(prompt, num_inference_steps=STEPS, guidance_scale=guidance, callback_on_step_end=keep,
             generator=torch.Generator("cpu").manual_seed(SEED), output_type="latent")
        picked = torch.cat([latents[round(i * (len(latents) - 1) / (columns - 1))] for i in range(columns)])
        images = pipe.vae.decode(picked / pipe.vae.config.scaling_factor).sample
        images = ((images.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1).cpu().numpy()
        rows.append(np.concatenate(list(images), axis=1))
    return np.concatenate(rows)
