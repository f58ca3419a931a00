"""A simulated Asterisk 23 PBX: the AMI events of scripted calls and of a call-centre load.

    scenarios   the 14 recorded scenarios, parameterised: scenario(), script(), NAMES
    load        Poisson call arrivals on the directory's queues and extensions: Load
    simulation  a running PBX (Simulation) and simulate_events() for an in-process tracker
    server      an asyncio AMI server streaming a Simulation (SimulatorServer); the only I/O
    __main__    ``python -m callhook.sources.simulator --directory lab-directory.json``

Below them: pbx (the live model and the events of each primitive), shapes (the
recorded header sets), engine (scripts over simulated time), calls, queues and
transfers (the scripts), actions/filters/status (what the server answers).
"""

from callhook.sources.simulator.load import Load
from callhook.sources.simulator.scenarios import NAMES, scenario, script
from callhook.sources.simulator.simulation import Simulation, simulate_events

__all__ = ["NAMES", "Load", "Simulation", "scenario", "script", "simulate_events"]
