"""Semantic types and units (DTDL v2 core, DTDL v3 QuantitativeTypes extension).

A Telemetry or Property (and, in v3, a Field, MapValue, CommandRequest or CommandResponse)
co-typed with a semantic type such as ``Temperature`` must give a ``unit`` of the matching
unit type and a numeric ``schema``::

    >>> UNIT_TYPE_OF_SEMANTIC_TYPE["Luminosity"]
    'PowerUnit'
    >>> "gigawatt" in UNITS_OF_UNIT_TYPE["PowerUnit"]
    True
"""

from __future__ import annotations

__all__ = [
    "SEMANTIC_TYPES_V2",
    "SEMANTIC_TYPES_V3",
    "UNITS_OF_UNIT_TYPE",
    "UNIT_TYPE_OF_SEMANTIC_TYPE",
    "V2_UNITS",
    "units_for",
]


def _split(text: str) -> frozenset[str]:
    return frozenset(text.split())


_POWER = _split(
    "britishThermalUnitPerHour gigajoulePerHour gigawatt horsepower joulePerHour "
    "joulePerSecond kiloBritishThermalUnitPerHour kilojoulePerHour kilojoulePerSecond kilowatt "
    "kilowattHourPerYear megajoulePerHour megawatt microwatt milliwatt tonOfRefrigeration watt"
)
_UNITLESS = _split(
    "partsPerBillion partsPerMillion partsPerQuadrillion partsPerTrillion percent unity"
)
_ANGLE = _split("degreeOfArc minuteOfArc radian secondOfArc turn")
_LENGTH = _split(
    "astronomicalUnit centimetre foot inch kilometre metre micrometre mile millimetre "
    "nanometre nauticalMile"
)
_DENSITY = _split(
    "gramPerCubicMetre kilogramPerCubicMetre microgramPerCubicMetre milligramPerCubicMetre"
)
_FORCE = _split("newton ounce pound ton")

#: Units of every unit type (QuantitativeTypes v1 table, a superset of DTDL v2's).
UNITS_OF_UNIT_TYPE: dict[str, frozenset[str]] = {
    "AccelerationUnit": _split("centimetrePerSecondSquared gForce metrePerSecondSquared"),
    "AngleUnit": _ANGLE,
    "AngularAccelerationUnit": _split("radianPerSecondSquared"),
    "AngularVelocityUnit": _split(
        "degreePerSecond radianPerSecond revolutionPerMinute revolutionPerSecond"
    ),
    "ApparentEnergyUnit": _split(
        "gigavoltAmpereHour kilovoltAmpereHour megavoltAmpereHour voltAmpereHour"
    ),
    "ApparentPowerUnit": _split(
        "gigavoltAmpere kilovoltAmpere megavoltAmpere millivoltAmpere voltAmpere"
    ),
    "AreaUnit": _split(
        "acre hectare squareCentimetre squareFoot squareInch squareKilometre squareMetre "
        "squareMillimetre"
    ),
    "CapacitanceUnit": _split("farad microfarad millifarad nanofarad picofarad"),
    "ChargeUnit": _split("ampereHour coulomb milliampereHour"),
    "CurrentUnit": _split("ampere kiloampere microampere milliampere"),
    "DataRateUnit": _split(
        "bitPerSecond bytePerSecond exbibitPerSecond exbibytePerSecond gibibitPerSecond "
        "gibibytePerSecond kibibitPerSecond kibibytePerSecond mebibitPerSecond "
        "mebibytePerSecond tebibitPerSecond tebibytePerSecond yobibitPerSecond "
        "yobibytePerSecond zebibitPerSecond zebibytePerSecond"
    ),
    "DataSizeUnit": _split(
        "bit byte exbibit exbibyte gibibit gibibyte kibibit kibibyte mebibit mebibyte tebibit "
        "tebibyte yobibit yobibyte zebibit zebibyte"
    ),
    "DensityUnit": _DENSITY,
    "EnergyUnit": _split(
        "britishThermalUnit electronvolt gigajoule gigawattHour joule kiloBritishThermalUnit "
        "kilojoule kilowattHour megaelectronvolt megajoule megawattHour milliwattHour "
        "terawattHour wattHour"
    ),
    "ForceUnit": _FORCE,
    "FrequencyUnit": _split("gigahertz hertz kilohertz megahertz millihertz"),
    "IlluminanceUnit": _split("footcandle lux"),
    "InductanceUnit": _split("henry microhenry millihenry"),
    "IonizingRadiationDoseUnit": _split(
        "gray microgray microsievert milligray millisievert sievert"
    ),
    "IrradianceUnit": _split("wattPerSquareMetre"),
    "LengthUnit": _LENGTH,
    "LuminanceUnit": _split("candelaPerSquareMetre"),
    "LuminousFluxUnit": _split("lumen"),
    "LuminousIntensityUnit": _split("candela"),
    "MagneticFluxUnit": _split("maxwell weber"),
    "MagneticInductionUnit": _split("gauss tesla"),
    "MassUnit": _split("gram kilogram massPound microgram milligram slug tonne"),
    "MassFlowRateUnit": _split(
        "gramPerHour gramPerSecond kilogramPerHour kilogramPerSecond massPoundPerHour"
    ),
    "PowerUnit": _POWER,
    "PressureUnit": _split(
        "bar decapascal hectopascal inchesOfMercury inchesOfWater kilopascal millibar "
        "millimetresOfMercury pascal poundPerSquareInch"
    ),
    "RadioactivityUnit": _split("becquerel gigabecquerel kilobecquerel megabecquerel"),
    "ReactiveEnergyUnit": _split(
        "gigavoltAmpereReactiveHour kilovoltAmpereReactiveHour megavoltAmpereReactiveHour "
        "voltAmpereReactiveHour"
    ),
    "ReactivePowerUnit": _split(
        "gigavoltAmpereReactive kilovoltAmpereReactive megavoltAmpereReactive "
        "millivoltAmpereReactive voltAmpereReactive"
    ),
    "ResistanceUnit": _split("kiloohm megaohm milliohm ohm"),
    "SoundPressureUnit": _split("bel decibel"),
    "TemperatureUnit": _split("degreeCelsius degreeFahrenheit kelvin"),
    "TimeUnit": _split("day hour microsecond millisecond minute nanosecond second year"),
    "TorqueUnit": _split("newtonMetre"),
    "Unitless": _UNITLESS,
    "VelocityUnit": _split(
        "centimetrePerSecond kilometrePerHour kilometrePerSecond knot metrePerHour "
        "metrePerSecond milePerHour milePerSecond"
    ),
    "VoltageUnit": _split("kilovolt megavolt microvolt millivolt volt"),
    "VolumeUnit": _split(
        "cubicCentimetre cubicFoot cubicInch cubicMetre fluidOunce gallon litre millilitre"
    ),
    "VolumeFlowRateUnit": _split(
        "cubicFootPerMinute cubicMetrePerHour cubicMetrePerMinute cubicMetrePerSecond "
        "gallonPerHour gallonPerMinute litrePerHour litrePerMinute litrePerSecond "
        "millilitrePerHour millilitrePerMinute millilitrePerSecond"
    ),
}

#: The unit type each semantic type takes its ``unit`` from.
UNIT_TYPE_OF_SEMANTIC_TYPE: dict[str, str] = {
    "Acceleration": "AccelerationUnit",
    "Angle": "AngleUnit",
    "AngularAcceleration": "AngularAccelerationUnit",
    "AngularVelocity": "AngularVelocityUnit",
    "ApparentEnergy": "ApparentEnergyUnit",
    "ApparentPower": "ApparentPowerUnit",
    "Area": "AreaUnit",
    "Capacitance": "CapacitanceUnit",
    "Concentration": "Unitless",
    "Current": "CurrentUnit",
    "DataRate": "DataRateUnit",
    "DataSize": "DataSizeUnit",
    "Density": "DensityUnit",
    "Distance": "LengthUnit",
    "ElectricCharge": "ChargeUnit",
    "Energy": "EnergyUnit",
    "EnergyRate": "PowerUnit",
    "Force": "ForceUnit",
    "Frequency": "FrequencyUnit",
    "Humidity": "DensityUnit",
    "Illuminance": "IlluminanceUnit",
    "Inductance": "InductanceUnit",
    "IonizingRadiationDose": "IonizingRadiationDoseUnit",
    "Irradiance": "IrradianceUnit",
    "Latitude": "AngleUnit",
    "Length": "LengthUnit",
    "Longitude": "AngleUnit",
    "Luminance": "LuminanceUnit",
    "Luminosity": "PowerUnit",
    "LuminousFlux": "LuminousFluxUnit",
    "LuminousIntensity": "LuminousIntensityUnit",
    "MagneticFlux": "MagneticFluxUnit",
    "MagneticInduction": "MagneticInductionUnit",
    "Mass": "MassUnit",
    "MassFlowRate": "MassFlowRateUnit",
    "Power": "PowerUnit",
    "Pressure": "PressureUnit",
    "Radioactivity": "RadioactivityUnit",
    "ReactiveEnergy": "ReactiveEnergyUnit",
    "ReactivePower": "ReactivePowerUnit",
    "RelativeDensity": "Unitless",
    "RelativeHumidity": "Unitless",
    "Resistance": "ResistanceUnit",
    "SoundPressure": "SoundPressureUnit",
    "Temperature": "TemperatureUnit",
    "Thrust": "ForceUnit",
    "TimeSpan": "TimeUnit",
    "Torque": "TorqueUnit",
    "Velocity": "VelocityUnit",
    "Voltage": "VoltageUnit",
    "Volume": "VolumeUnit",
    "VolumeFlowRate": "VolumeFlowRateUnit",
}

#: Units that exist in DTDL v2's core context.
V2_UNITS: frozenset[str] = _split(
    "metrePerSecondSquared centimetrePerSecondSquared gForce radian degreeOfArc minuteOfArc "
    "secondOfArc turn radianPerSecondSquared radianPerSecond degreePerSecond "
    "revolutionPerSecond revolutionPerMinute squareMetre squareCentimetre squareMillimetre "
    "squareKilometre hectare squareFoot squareInch acre farad millifarad microfarad nanofarad "
    "picofarad coulomb ampere microampere milliampere bitPerSecond kibibitPerSecond "
    "mebibitPerSecond gibibitPerSecond tebibitPerSecond exbibitPerSecond zebibitPerSecond "
    "yobibitPerSecond bytePerSecond kibibytePerSecond mebibytePerSecond gibibytePerSecond "
    "tebibytePerSecond exbibytePerSecond zebibytePerSecond yobibytePerSecond bit kibibit "
    "mebibit gibibit tebibit exbibit zebibit yobibit byte kibibyte mebibyte gibibyte tebibyte "
    "exbibyte zebibyte yobibyte kilogramPerCubicMetre gramPerCubicMetre joule kilojoule "
    "megajoule gigajoule electronvolt megaelectronvolt kilowattHour newton pound ounce ton "
    "hertz kilohertz megahertz gigahertz lux footcandle henry millihenry microhenry metre "
    "centimetre millimetre micrometre nanometre kilometre foot inch mile nauticalMile "
    "astronomicalUnit candelaPerSquareMetre lumen candela weber maxwell tesla kilogram gram "
    "milligram microgram tonne slug gramPerSecond kilogramPerSecond gramPerHour "
    "kilogramPerHour watt microwatt milliwatt kilowatt megawatt gigawatt horsepower "
    "kilowattHourPerYear pascal kilopascal bar millibar millimetresOfMercury "
    "poundPerSquareInch inchesOfMercury inchesOfWater ohm milliohm kiloohm megaohm decibel bel "
    "kelvin degreeCelsius degreeFahrenheit second millisecond microsecond nanosecond minute "
    "hour day year unity percent newtonMetre metrePerSecond centimetrePerSecond "
    "kilometrePerSecond metrePerHour kilometrePerHour milePerHour milePerSecond knot volt "
    "millivolt microvolt kilovolt megavolt cubicMetre cubicCentimetre litre millilitre "
    "cubicFoot cubicInch fluidOunce gallon litrePerSecond millilitrePerSecond litrePerHour "
    "millilitrePerHour"
)

#: Semantic types defined by DTDL v2's core context.
SEMANTIC_TYPES_V2: frozenset[str] = _split(
    "Acceleration Angle AngularAcceleration AngularVelocity Area Capacitance Current DataRate "
    "DataSize Density Distance ElectricCharge Energy Force Frequency Humidity Illuminance "
    "Inductance Latitude Longitude Length Luminance Luminosity LuminousFlux LuminousIntensity "
    "MagneticFlux MagneticInduction Mass MassFlowRate Power Pressure RelativeHumidity "
    "Resistance SoundPressure Temperature Thrust TimeSpan Torque Velocity Voltage Volume "
    "VolumeFlowRate"
)

#: Semantic types defined by the QuantitativeTypes v1 extension (DTDL v3).
SEMANTIC_TYPES_V3: frozenset[str] = frozenset(UNIT_TYPE_OF_SEMANTIC_TYPE)


def units_for(semantic_type: str, version: int) -> frozenset[str]:
    """Units allowed for ``semantic_type`` in DTDL ``version`` (empty when unknown)."""
    unit_type = UNIT_TYPE_OF_SEMANTIC_TYPE.get(semantic_type)
    if unit_type is None:
        return frozenset()
    units = UNITS_OF_UNIT_TYPE[unit_type]
    return units & V2_UNITS if version == 2 else units
