"""The execution simulator (docs/method.md section 5): generated mock tools, the sandbox that runs them,
and the value simulators that answer their ``call_external_api``.

    from graph_toucan.mock import MockRuntime, SandboxPool, bundled_mock_folder, read_mock_folder

    async with SandboxPool(workers=2) as pool:
        runtime = MockRuntime(pool)  # the deterministic simulator, seed 0
        runtime.add(read_mock_folder(bundled_mock_folder()))
        output = await runtime.call("United States Weather/get_current_weather", {"location": "Boston"})
"""

from graph_toucan.mock.build import BuildReport, build_mock, build_mocks, check_mock, mock_key
from graph_toucan.mock.errors import (
    MockArgumentsError,
    MockCallError,
    MockError,
    MockLimitError,
    MockNotFoundError,
    MockPolicyError,
    SandboxError,
)
from graph_toucan.mock.files import bundled_mock_folder, read_mock_folder, write_mock_folder
from graph_toucan.mock.runtime import MockRuntime
from graph_toucan.mock.sandbox import Limits, SandboxPool
from graph_toucan.mock.simulate import Conversation, DeterministicSimulator, TeacherSimulator

__all__ = [
    "BuildReport",
    "Conversation",
    "DeterministicSimulator",
    "Limits",
    "MockArgumentsError",
    "MockCallError",
    "MockError",
    "MockLimitError",
    "MockNotFoundError",
    "MockPolicyError",
    "MockRuntime",
    "SandboxError",
    "SandboxPool",
    "TeacherSimulator",
    "build_mock",
    "build_mocks",
    "bundled_mock_folder",
    "check_mock",
    "mock_key",
    "read_mock_folder",
    "write_mock_folder",
]
