"""Run ids (8 chars of [a-z0-9]) and readable names (adjective-noun-N).

The word lists are inlined rather than taken from coolname: importing coolname costs ~25 ms,
half of init()'s 50 ms budget, for two short lists.
"""

from __future__ import annotations

import secrets
import string

_ID_ALPHABET = string.ascii_lowercase + string.digits

ADJECTIVES = """
agile amber ancient autumn azure bold brave breezy bright brisk calm celestial cheerful
clever cosmic crimson crisp curious daring dashing dazzling deep desert divine dry dusty
eager earnest easy electric elegant emerald ethereal fancy fearless fiery fine floral
fluent flying fragrant frosty gallant gentle giddy glad glorious golden graceful grand
happy hardy hearty hidden holy honest icy jolly keen kind lilac lively lucky lunar
lush magic major mellow merry misty modest morning noble northern olive polar proud
quiet radiant rare restful rich robust rosy royal rustic sandy scarlet serene sharp
silent silver sleek smooth snowy solar spring stellar stoic sunny super swift tender
tidy twilight upbeat valiant vibrant vivid warm wild winter wise witty young zesty
""".split()

NOUNS = """
aardvark acorn aurora badger bamboo bay bird blaze bloom breeze brook butterfly
canyon cedar cherry cloud comet coral cosmos crane creek dawn deer delta dew dream
dune eagle ember falcon feather fern field firefly flower fog forest fox frog galaxy
glacier glade grass grove harbor haze heron hill island jade lake leaf lion lotus
meadow meteor mist moon morning moss mountain night oak ocean orchid otter owl
paper pebble pine planet plant pond puddle rain rainbow raven resonance river sea
shadow shape silence sky smoke snow snowflake sound sparrow spring star stone storm
sun sunset surf thunder tiger tree valley violet voice water wave wildflower wind
wood yak
""".split()


def new_run_id() -> str:
    """8 random characters of [a-z0-9] (~2.8e12 ids: collisions are checked anyway)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(8))


def new_run_name(number: int) -> str:
    """adjective-noun-N, N being the run's number in its project."""
    return f"{secrets.choice(ADJECTIVES)}-{secrets.choice(NOUNS)}-{number}"
