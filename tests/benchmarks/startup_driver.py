"""Runs ``ketadesk run`` as a user would, for the start-up bench: the sign-in is typed in here.

``python startup_driver.py USERNAME PASSWORD -- ketadesk arguments...``: the same ``main`` the
``ketadesk`` command calls, with ``KETADESK_MILESTONES`` set by the bench.  When the sign-in
dialog has painted, this fills in the username and password and presses Sign in, as a person
would (the password check really runs); once the signed-in day has painted the process ends.
Nothing of this is in the application: it only sees keystrokes' worth of text in its fields.
"""

import os
import sys

from ketadesk.ui.common import milestones

_record = milestones.record


def _record_and_act(name: str) -> None:
    _record(name)
    if name == milestones.SIGN_IN_PAINTED:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        from ketadesk.ui.access.sign_in import SignInDialog

        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, SignInDialog)
        dialog.username_edit.setText(USERNAME)
        dialog.password_edit.setText(PASSWORD)
        dialog.sign_in_button.click()
        # Never signed in (a wrong password, say): fail the run rather than wait forever.
        QTimer.singleShot(60_000, lambda: os._exit(3))
    elif name == milestones.DAY_PAINTED:
        sys.stdout.flush()
        if os.environ.get("STARTUP_DRIVER_QUIT"):  # under a profiler: end the way a user would
            from PySide6.QtWidgets import QApplication

            QApplication.closeAllWindows()
        else:
            os._exit(0)  # the bench has its figures; no closing backup


USERNAME, PASSWORD = sys.argv[1], sys.argv[2]
milestones.record = _record_and_act
sys.argv = ["ketadesk", *sys.argv[sys.argv.index("--") + 1 :]]

from ketadesk.cli import main  # noqa: E402  (after the patch, as the command would start)

sys.exit(main())
