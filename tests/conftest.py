import os

from hypothesis import HealthCheck, settings

# No deadlines: tests must not fail because the machine is slow. Raise the example count with
# HYPOTHESIS_PROFILE=thorough.
settings.register_profile(
    "default", deadline=None, max_examples=60, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "thorough", deadline=None, max_examples=2000, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
