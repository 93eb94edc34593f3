"""Media a run logs: `Image`, `Table`, `Audio`, `Video`, `Html`, the `plot` presets and
matplotlib figures (see _base for how log() takes them and _sink for where they go)."""

from . import plot
from ._base import Media, is_media, prepare
from ._sink import MediaSink
from .audio import Audio
from .html import Html
from .image import Image
from .table import Table
from .unsupported import Molecule, Object3D, Plotly
from .video import Video

__all__ = [
    "Audio",
    "Html",
    "Image",
    "Media",
    "MediaSink",
    "Molecule",
    "Object3D",
    "Plotly",
    "Table",
    "Video",
    "is_media",
    "plot",
    "prepare",
]
