"""Registers the web extension's routes (nodes/web_api.py) on ComfyUI's server. Imported only inside a running
ComfyUI (the pack's __init__.py checks that ``server.PromptServer.instance`` exists first)."""

from __future__ import annotations

import folder_paths
from server import PromptServer

from . import web_api

web_api.add_routes(PromptServer.instance.routes, folder_paths.get_input_directory, folder_paths.get_output_directory)
