"""The baseline of ``bench/uploads.py``: the least a FastAPI upload route can do (one ``UploadFile``, written
to disk, 202), served by uvicorn the way ``grader api`` serves the grader's app.

    BARE_UPLOAD_DIR=/tmp/x .venv/bin/python -m uvicorn bench.bare_upload:app --workers 2 --port 8001
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from fastapi import FastAPI, UploadFile, status

app = FastAPI()
FOLDER = Path(os.environ.get("BARE_UPLOAD_DIR", "/tmp/bare-uploads"))


@app.post("/upload", status_code=status.HTTP_202_ACCEPTED)
def upload(file: UploadFile) -> dict[str, str]:
    """Keep the file under a new id, as the grader keeps a submission's zip."""
    name = uuid.uuid4().hex
    FOLDER.mkdir(parents=True, exist_ok=True)
    with (FOLDER / name).open("wb") as out:
        shutil.copyfileobj(file.file, out)
    return {"id": name}
