"""``babelvl annotate serve``: a web app where people judge translated vision-language items.

Server-rendered pages over one SQLite file; see :func:`create_app` and :func:`serve`, and the
set-up helpers in :mod:`.manage`.
"""

from .manage import create_admin, create_project, create_user, ensure_admin, export_annotations, import_plan
from .server import create_app, serve

__all__ = ["create_admin", "create_app", "create_project", "create_user", "ensure_admin", "export_annotations",
           "import_plan", "serve"]
