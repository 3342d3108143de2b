"""Cells of our reference clip.ipynb: setup, retrieval helpers, and our caption."""

CLIP: list[tuple[str, str]] = [
    (
        "md",
        """
# CSC413/2516 Assignment 3, part 4: CLIP retrieval
""",
    ),
    (
        "code",
        """
!pip install -q ftfy regex tqdm
!pip install -q git+https://github.com/openai/CLIP.git
!git clone -q https://github.com/seshuad/IMagenet
""",
    ),
    (
        "code",
        """
import glob

import clip
import numpy as np
import torch
from PIL import Image

device = "cuda" if torch.cuda.is_available() else "cpu"
model, preprocess = clip.load("ViT-B/32", device=device)
""",
    ),
    (
        "code",
        """
IMAGE_DIR = "IMagenet/tiny-imagenet-200/train/n09256479/images"


def retrieve(caption, image_paths, show=True):
    \"\"\"The image CLIP ranks first for the caption: softmax over 100 x cosine similarity.\"\"\"
    images = torch.stack([preprocess(Image.open(p)) for p in image_paths]).to(device)
    text = clip.tokenize([caption]).to(device)
    with torch.no_grad():
        image_features = model.encode_image(images)
        text_features = model.encode_text(text)
    image_features /= image_features.norm(dim=-1, keepdim=True)
    text_features /= text_features.norm(dim=-1, keepdim=True)
    probs = (100.0 * text_features @ image_features.T).softmax(dim=-1)
    best = probs.argmax().item()
    if show:
        print(image_paths[best])
    return image_paths[best]
""",
    ),
    (
        "md",
        """
## Q2: a caption that retrieves the target image
""",
    ),
    (
        "code",
        """
##### START YOUR CODE HERE #####
caption = "a red and white coral reef with a small orange fish"
##### END YOUR CODE HERE #####
""",
    ),
    (
        "code",
        """
image_paths = sorted(glob.glob(IMAGE_DIR + "/*.JPEG"))
retrieve(caption, image_paths)
""",
    ),
]
