"""The simulated plant: a true CSTR with instruments, served over OPC UA."""

from processtwin.connectors.simulator.plant import PlantConfig, SensorSpec, SimulatedPlant
from processtwin.connectors.simulator.server import NAMESPACE, PlantServer

__all__ = ["NAMESPACE", "PlantConfig", "PlantServer", "SensorSpec", "SimulatedPlant"]
