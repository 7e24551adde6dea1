import pytest

from messaging.vendors.simulator import SimulatorControl, SimulatorServer


@pytest.fixture(scope="session")
def simulator_server():
    """All vendor simulators on one real HTTP port for the whole test session."""
    server = SimulatorServer(port=0, push_interval_s=0.05).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator_server):
    """The running simulator, reset for each test.  ``sim.url(key)`` is a vendor's base URL."""
    simulator_server.state.reset()
    simulator_server.state.report_delay_s = 0.0
    control = SimulatorControl(simulator_server.base_url)
    control.server = simulator_server
    control.state = simulator_server.state
    control.url = simulator_server.vendor_url
    return control
