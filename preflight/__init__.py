"""preflight: is this cluster ready for the Azure Machine Learning extension? Find out first."""

__version__ = "0.1.0"
