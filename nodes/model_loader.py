"""SDPose Model Loader: an SDPose checkpoint under ComfyUI's model management (ModelPatcher)."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.engine.options import DTYPE_NAMES
from ..sdpose_core.keypoints import NUM_BODY, NUM_WHOLEBODY
from . import common, v3

DTYPE_CHOICES = ("auto", *DTYPE_NAMES)


def _module_class():
    import torch

    class SDPoseComfyModule(torch.nn.Module):
        """The SDPoseModel as ModelPatcher expects it: a plain ``device`` attribute and ``get_dtype()``."""

        def __init__(self, sdpose, device):
            super().__init__()
            self.sdpose = sdpose
            self.device = device

        def get_dtype(self):
            return self.sdpose.dtype

    return SDPoseComfyModule


class SDPoseHandle:
    """What flows along an SDPOSE_NODES_MODEL link: the ModelPatcher plus what the estimator needs to know."""

    def __init__(self, sdpose, name: str, load_device, offload_device):
        import comfy.model_patcher

        self.name = name
        self.scheme = sdpose.scheme
        self.module = _module_class()(sdpose, offload_device)
        self.patcher = comfy.model_patcher.ModelPatcher(self.module, load_device=load_device,
                                                        offload_device=offload_device)

    @property
    def dtype(self):
        return self.module.sdpose.dtype

    def load(self, memory_required: int = 0):
        """Move the model to ComfyUI's compute device (offloading others if needed) and return the SDPoseModel."""
        import comfy.model_management as mm

        mm.load_models_gpu([self.patcher], memory_required=memory_required, force_full_load=True)
        sdpose, device = self.module.sdpose, self.patcher.load_device
        # --novram-style partial loads leave plain torch modules behind; the whole model must be on one device.
        tensors = list(sdpose.parameters()) + list(sdpose.buffers())
        if any(t.device != device for t in tensors):
            sdpose.to(device)
        return sdpose

    def __repr__(self) -> str:
        return f"SDPose({self.name}, {self.scheme.name}, {self.dtype})"


def pick_dtype(choice: str, device):
    """The dtype to run in: the user's choice; for 'auto' a dtype ComfyUI was told to use (--fp32-unet,
    --force-fp32, --bf16-unet, --fp16-unet), else the library's pick for this device (bf16 on GPUs that have it)."""
    import torch
    from comfy.cli_args import args

    from ..sdpose_core.engine.memory import auto_dtype
    from ..sdpose_core.weights.checkpoint import parse_dtype

    if choice != "auto":
        return parse_dtype(choice)
    forced = [("fp32_unet", torch.float32), ("force_fp32", torch.float32), ("bf16_unet", torch.bfloat16),
              ("fp16_unet", torch.float16)]
    return next((dtype for flag, dtype in forced if getattr(args, flag, False)), auto_dtype(device))


class SDPoseModelLoader(io.ComfyNode):
    """Loads an SDPose checkpoint into an SDPoseHandle (ComfyUI's model management moves it between devices)."""

    @classmethod
    def define_schema(cls) -> io.Schema:
        from ..sdpose_core.engine.cpu import native_bf16

        bf16 = (" This CPU computes bf16 natively: on the CPU, bf16 runs about 2x faster than fp32 (auto keeps fp32, "
                "the exact path)." if native_bf16() else "")
        return v3.schema(
            node_id="SDPoseNodes.ModelLoader",
            display_name="SDPose Model Loader",
            description=("Loads an SDPose model (Stable Diffusion 2 U-Net + heatmap head) for the SDPose Estimator. "
                         "Official folders and single .safetensors files go in models/sdpose/; ComfyUI's "
                         "sdpose_wholebody_fp16.safetensors may stay in models/checkpoints/; '[hub]' entries download "
                         "the official weights into models/sdpose/ on first use."),
            inputs=[
                io.Combo.Input("model_name", options=common.list_models(), tooltip=(
                    f"Body ({NUM_BODY} keypoints) or WholeBody ({NUM_WHOLEBODY}: body, feet, face, hands) SDPose "
                    "checkpoint.")),
                v3.Choice("dtype", options=list(DTYPE_CHOICES), default="auto", tooltip=(
                    "auto: bf16 on GPUs that compute it, else fp16 (a batch that overflows fp16 is rerun in fp32), "
                    "fp32 on the CPU; ComfyUI's --fp32-unet / --bf16-unet / --fp16-unet / --force-fp32 win." + bf16)),
                io.Boolean.Input("compile", default=False, optional=True, tooltip=(
                    "torch.compile the model (CUDA graphs on GPUs): faster after a one-time compile per batch size "
                    "(minutes). Needs a C++ compiler (CPU) or Triton (GPU); without them it runs uncompiled and "
                    "says so in the console.")),
            ],
            outputs=[v3.SDPoseModel.Output(display_name="sdpose_model", tooltip=(
                "The SDPose model, managed by ComfyUI (moved to the GPU when used, offloaded when other models need "
                "the memory)."))],
        )

    @classmethod
    def validate_inputs(cls, model_name=None) -> bool | str:
        """A listed model, or the folder name of a hub copy (listed as its ' [hub]' entry; saved workflows may name
        the folder)."""
        return v3.choice_problem("model_name", model_name, [*common.list_models(), *common.hub_folder_names()])

    @classmethod
    def execute(cls, model_name: str, dtype: str = "auto", compile: bool = False) -> io.NodeOutput:
        common.require(common.CORE_PACKAGES)
        import comfy.model_management as mm
        import torch

        from ..sdpose_core.engine.accel import compile_model, default_mode
        from ..sdpose_core.weights.checkpoint import load_model
        from ..sdpose_core.weights.source import cache_dir

        load_device, offload_device = mm.get_torch_device(), mm.unet_offload_device()
        source = common.resolve_model(model_name)
        cache = cache_dir(default=common.writable_sdpose_dir() / ".cache")  # $SDPOSE_CACHE or models/sdpose/.cache
        run_dtype = pick_dtype(dtype, load_device)
        # channels-last and the compile mode follow the device the model runs on, not the one it waits on
        channels_last = run_dtype != torch.float32 if load_device.type == "cuda" else None
        model = load_model(source, dtype=run_dtype, device=offload_device, cache=cache, channels_last=channels_last)
        if compile:
            compile_model(model, mode=default_mode(load_device))
        common.LOG.info("SDPose: loaded '%s' (%s, %d keypoints, %s%s), runs on %s", model_name, model.scheme.name,
                        model.scheme.num_keypoints, str(model.dtype).replace("torch.", ""),
                        ", compiled on first use" if compile else "", load_device)
        return io.NodeOutput(SDPoseHandle(model, model_name, load_device, offload_device))


NODES = [SDPoseModelLoader]
