"""The registry of Settings pages: what this build has is offered, what it lacks is left out,
and a page that is there but broken is a defect, not a silent gap."""

from __future__ import annotations

from pathlib import Path

import pytest

from ketadesk.ui.settings.clinic_page import ClinicPage
from ketadesk.ui.settings.pages import PAGES, PageSpec, available_pages, page_class


def test_the_clinic_page_comes_first_and_is_a_set_up_step() -> None:
    found = available_pages(setup_only=True)
    assert found[0][0].name == "clinic"
    assert found[0][1] is ClinicPage
    assert ClinicPage.title == "Clinic"


def test_the_pages_names_are_unique_and_each_is_in_its_own_module() -> None:
    assert len({p.name for p in PAGES}) == len(PAGES)
    assert all(p.module == f"ketadesk.ui.settings.{p.name}_page" for p in PAGES)


def test_a_page_not_in_this_build_is_left_out() -> None:
    missing = PageSpec("nowhere", "ketadesk.ui.settings.nowhere_page", "NowherePage")
    assert page_class(missing) is None


def test_a_page_whose_own_import_fails_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "half_built_page.py").write_text("import no_such_library_at_all\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    spec = PageSpec("half_built", "half_built_page", "HalfBuiltPage")
    with pytest.raises(ModuleNotFoundError, match="no_such_library_at_all"):
        page_class(spec)


def test_a_name_that_is_not_a_widget_is_not_a_page() -> None:
    spec = PageSpec("clinic", "ketadesk.ui.settings.clinic_page", "FIELD_LABELS")
    assert page_class(spec) is None
