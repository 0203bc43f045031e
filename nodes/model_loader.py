"""SDPose Model Loader: an SDPose checkpoint under ComfyUI's model management (ModelPatcher)."""

from __future__ import annotations

from comfy_api.latest import io

from ..sdpose_core.keypoints import NUM_BODY, NUM_WHOLEBODY
from . import common, v3

DTYPE_CHOICES = ("auto", "fp32", "fp16", "bf16")


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
    """The dtype to run in: the user's choice, or ComfyUI's pick for this device (bf16 > fp16 > fp32)."""
    import torch

    import comfy.model_management as mm

    from ..sdpose_core.weights.checkpoint import parse_dtype

    if choice != "auto":
        return parse_dtype(choice)
    return mm.unet_dtype(device=device, supported_dtypes=[torch.bfloat16, torch.float16, torch.float32])


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
                    "auto: what ComfyUI picks for this device (bf16 or fp16 on GPUs, fp32 on CPU)." + bf16)),
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
    def execute(cls, model_name: str, dtype: str = "auto") -> io.NodeOutput:
        common.require(common.CORE_PACKAGES)
        import comfy.model_management as mm

        from ..sdpose_core.weights.checkpoint import load_model
        from ..sdpose_core.weights.source import cache_dir

        load_device, offload_device = mm.get_torch_device(), mm.unet_offload_device()
        source = common.resolve_model(model_name)
        cache = cache_dir(default=common.writable_sdpose_dir() / ".cache")  # $SDPOSE_CACHE or models/sdpose/.cache
        model = load_model(source, dtype=pick_dtype(dtype, load_device), device=offload_device, cache=cache)
        common.LOG.info("SDPose: loaded '%s' (%s, %d keypoints, %s), runs on %s", model_name, model.scheme.name,
                        model.scheme.num_keypoints, str(model.dtype).replace("torch.", ""), load_device)
        return io.NodeOutput(SDPoseHandle(model, model_name, load_device, offload_device))


NODES = [SDPoseModelLoader]
