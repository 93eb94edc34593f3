"""The key footer of every flightlog screen, rebuilt only when the keys it shows change.

Textual's Footer (8.2.8) recomposes, removing and mounting a FooterKey per key, on every
`bindings_updated` signal of its screen: each focus change, each `refresh_bindings()`. Opening
a run screen sends seven, and all but two bring the same keys; mounting 15 keys again (their
styles matched against the app's stylesheet) was a fifth of the CPU of opening a run's
charts. This footer remembers what its last compose showed and recomposes only when the keys
shown, their descriptions, tooltips or enabled states differ.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.widgets import Footer

if TYPE_CHECKING:
    from textual.app import ComposeResult
    from textual.screen import Screen

#: what a compose reads of a screen's bindings: the keys shown, in order, and the command
#: palette's key (shown whether or not its binding is)
Shown = tuple[tuple[object, ...], ...]


def shown_keys(screen: Screen) -> Shown:
    """The inputs of Footer.compose. Bindings not shown are left out: which of them are active
    changes with focus (an Input's editing keys) and the footer shows none of them."""
    palette = screen.app.COMMAND_PALETTE_BINDING
    return tuple(
        (key, binding.action, binding.description, binding.group, enabled, tooltip)
        for key, (_, binding, enabled, tooltip) in screen.active_bindings.items()
        if binding.show or key == palette
    )


class KeyFooter(Footer):
    """A Footer whose recompose is skipped when the keys it would show are those it shows."""

    _composed: Shown | None = None

    def compose(self) -> ComposeResult:
        if self._bindings_ready:
            self._composed = shown_keys(self.screen)
        return super().compose()

    async def recompose(self) -> None:
        """Checked when the recompose runs, not when it is asked for: updates arrive several
        at a time, each queueing one (`call_after_refresh`) before the first has composed."""
        if self.is_attached and shown_keys(self.screen) == self._composed:
            return  # (a footer no longer attached, its screen popped, recomposes nothing)
        await super().recompose()
