"""Suite-wide test settings."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_blas_thread():
    """Run the suite with one BLAS thread.

    The tests fit small models, whose many tiny BLAS calls run several times
    faster single-threaded on a shared 2-core machine; results do not depend
    on the thread count beyond rounding.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl is in the test extra
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield
