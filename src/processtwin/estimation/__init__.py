"""State and parameter estimation over process models."""

from processtwin.estimation.ekf import DelayedEKF, EKFConfig, ExtendedKalmanFilter

__all__ = ["DelayedEKF", "EKFConfig", "ExtendedKalmanFilter"]
