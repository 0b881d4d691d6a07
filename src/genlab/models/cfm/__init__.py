"""Conditional flow matching: probability paths, minibatch OT pairing, sources and the `cfm` model.

Papers: Lipman et al. 2023 (arXiv:2210.02747), Tong et al. 2024 (arXiv:2302.00482), Liu et al. 2023
(rectified flow, arXiv:2209.03003). See `genlab.models.cfm.model` for the model and its options.
"""

from genlab.models.cfm.model import CFM, CFMConfig, CFMWithDensity
from genlab.models.cfm.pairing import ot_pairing
from genlab.models.cfm.paths import (
    PATHS,
    AffinePath,
    GaussianOTPath,
    LinearPath,
    PathName,
    TrigonometricPath,
    build_path,
)
from genlab.models.cfm.source import Source, SourceName, StandardNormal, ToySource, build_source

__all__ = ["CFM", "PATHS", "AffinePath", "CFMConfig", "CFMWithDensity", "GaussianOTPath", "LinearPath",
           "PathName", "Source", "SourceName", "StandardNormal", "ToySource", "TrigonometricPath",
           "build_path", "build_source", "ot_pairing"]
