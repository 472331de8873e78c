"""``python -m babelvl.quality.app --db X [--host H] [--port P] [--create-admin NAME]``."""

from __future__ import annotations

import argparse
import getpass
import os
import sys

from babelvl.errors import BabelvlError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m babelvl.quality.app",
                                     description="Serve the babelvl annotation app.")
    parser.add_argument("--db", required=True, help="SQLite file of the app (created if missing)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--image-root", default=None, help="folder where items' image_path resolve")
    parser.add_argument("--max-upload-bytes", type=int, default=5_000_000)
    parser.add_argument("--create-admin", metavar="NAME",
                        help="create an admin and exit (password from $BABELVL_ADMIN_PASSWORD or a prompt)")
    args = parser.parse_args(argv)
    from . import create_admin, serve

    if args.create_admin:
        password = os.environ.get("BABELVL_ADMIN_PASSWORD") or getpass.getpass("Password: ")
        try:
            create_admin(args.db, args.create_admin, password)
        except BabelvlError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"admin {args.create_admin!r} created in {args.db}")
        return 0
    serve(args.db, args.host, args.port, image_root=args.image_root, max_upload_bytes=args.max_upload_bytes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
