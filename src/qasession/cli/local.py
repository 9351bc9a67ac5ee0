"""`qa local ...`: the built-in local platform, to post as anyone and read the timeline."""

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from qasession.cli.common import HomeOpt, JsonOpt, PlanFileOpt, out, resolve

if TYPE_CHECKING:
    from qasession.platforms.local import LocalNetwork

local_app = typer.Typer(
    help="The built-in local platform: post as anyone, like, read the timeline.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app: typer.Typer) -> None:
    app.add_typer(local_app, name="local")


NetworkOpt = Annotated[
    str,
    typer.Option(
        "--platform",
        help="Which local platform: local (the default) or a stand-in (local:x, local:bsky, "
        "local:mastodon) of a rehearsal on several platforms.",
    ),
]


def _network(
    ctx: typer.Context, file: Path | None, home: Path | None, platform: str = "local"
) -> "LocalNetwork":
    from qasession.errors import UsageError
    from qasession.platforms.local import LocalNetwork
    from qasession.platforms.registry import stands_for

    if platform != "local" and stands_for(platform) is None:
        raise UsageError(
            f"{platform!r} is not a local platform",
            hint="local, local:x, local:bsky or local:mastodon",
        )
    _, home_dir = resolve(ctx, file, home)
    return LocalNetwork(home_dir, platform)


@local_app.command("post")
def post(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The post's text.")],
    author: Annotated[str, typer.Option("--as", help="Post as this handle, e.g. @alice.")],
    reply_to: Annotated[str | None, typer.Option(help="Id of the post this replies to.")] = None,
    quote: Annotated[str | None, typer.Option(help="Id of the post this quotes.")] = None,
    platform: NetworkOpt = "local",
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Post on the local platform as any handle; prints the new post's id."""
    network = _network(ctx, file, home, platform)
    kind = "reply" if reply_to else "quote" if quote else "post"
    new_id = network.add(
        author=author,
        text=text,
        created_at=network.clock().now(),
        kind=kind,
        ref=reply_to or quote,
    )
    out(new_id)


@local_app.command("like")
def like(
    ctx: typer.Context,
    post_id: Annotated[str, typer.Argument(help="Id of the post to like.")],
    author: Annotated[str, typer.Option("--as", help="Like as this handle.")] = "@someone",
    platform: NetworkOpt = "local",
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """Like a post on the local platform; prints its like count."""
    network = _network(ctx, file, home, platform)
    out(str(network.like(post_id, author)))


@local_app.command("timeline")
def timeline(
    ctx: typer.Context,
    json: JsonOpt = False,
    platform: NetworkOpt = "local",
    file: PlanFileOpt = None,
    home: HomeOpt = None,
) -> None:
    """List every post on the local platform, oldest first (direct messages included)."""
    from qasession.cli import render

    network = _network(ctx, file, home, platform)
    posts = network.timeline()
    if json:
        render.print_json([p.to_json() for p in posts])
    else:
        render.timeline(posts)
