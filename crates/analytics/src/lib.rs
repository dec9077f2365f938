//! Rapport analytics: segmentation, CLV and attribution models. Pure functions over slices.
