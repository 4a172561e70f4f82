import pytest

pytestmark = pytest.mark.django_db

# (permission, specialist, supervisor, manager, integration, no role)
MATRIX = [
    ("cases.view_case", True, True, True, True, False),
    ("cases.add_case", True, True, False, True, False),
    ("cases.assign_case", False, True, False, False, False),
    ("cases.view_queue", False, True, True, False, False),
    ("cases.view_reports", False, True, True, False, False),
    ("cases.add_chatmessage", True, True, False, True, False),
]


@pytest.mark.parametrize("perm,spec,sup,mgr,integ,none", MATRIX)
def test_each_role_gets_exactly_its_rights(
    perm, spec, sup, mgr, integ, none, specialist, supervisor, manager, integration, nobody
):
    got = [u.has_perm(perm) for u in (specialist, supervisor, manager, integration, nobody)]
    assert got == [spec, sup, mgr, integ, none]


def test_a_specialist_changes_own_or_free_cases_only(
    make_case, specialist, specialist2, supervisor
):
    from cases.services import case_assign

    case = make_case()
    assert specialist.has_perm("cases.change_case", case)
    case = case_assign(case=case, assignee=specialist2, actor=supervisor)
    assert not specialist.has_perm("cases.change_case", case)
    assert specialist2.has_perm("cases.change_case", case)
    assert supervisor.has_perm("cases.change_case", case)


def test_managers_and_integrations_do_not_work_cases(make_case, manager, integration):
    case = make_case()
    assert not manager.has_perm("cases.change_case", case)
    assert not integration.has_perm("cases.change_case", case)


def test_unmasked_export_is_a_separate_grant(manager):
    from django.contrib.auth.models import Permission, User

    assert not manager.has_perm("cases.export_unmasked")
    manager.user_permissions.add(Permission.objects.get(codename="export_unmasked"))
    assert User.objects.get(pk=manager.pk).has_perm("cases.export_unmasked")


def test_the_sessions_user_comes_with_its_roles_and_permissions_in_one_statement(
    manager, django_assert_num_queries
):
    """RoleAwareModelBackend.get_user: what Django's returns, plus what cases.roles reads."""
    from django.contrib.auth.models import Group, Permission

    from cases.roles import RoleAwareModelBackend, has_model_permission, user_roles

    manager.user_permissions.add(Permission.objects.get(codename="export_unmasked"))
    supervisors = Group.objects.get(name="supervisor")
    supervisors.permissions.add(Permission.objects.get(codename="view_subscriber"))
    manager.groups.add(supervisors)
    backend = RoleAwareModelBackend()
    with django_assert_num_queries(1):
        user = backend.get_user(str(manager.pk))
        assert user_roles(user) == {"manager", "supervisor"}
        assert has_model_permission(user, "cases.export_unmasked")  # a user's own grant
        assert has_model_permission(user, "cases.view_subscriber")  # a role's
        assert not has_model_permission(user, "cases.delete_case")
        assert user.has_perm("cases.export_unmasked")
    assert (user.pk, user.username, user.password) == (
        manager.pk,
        manager.username,
        manager.password,
    )
    assert not hasattr(user, "fc_role_names")  # nothing left on the instance
    manager.is_active = False
    manager.save()
    assert backend.get_user(str(manager.pk)) is None  # as Django's: inactive users are out
    assert backend.get_user("999999") is None and backend.get_user("x") is None


def test_a_role_taken_away_applies_at_the_next_request(client, supervisor):
    from django.contrib.auth.models import Group

    client.force_login(supervisor)
    assert client.get("/queue/").status_code == 200
    supervisor.groups.remove(Group.objects.get(name="supervisor"))
    assert client.get("/queue/").status_code == 403


def test_the_sessions_user_comes_with_its_time_zone(specialist, django_assert_num_queries):
    """The pages show times in the person's zone (cases.services.staff_time_zone): read in
    the user's own statement; a person without a profile yet gets one with the default."""
    from zoneinfo import ZoneInfo

    from cases.models import StaffProfile
    from cases.roles import RoleAwareModelBackend
    from cases.services import staff_time_zone

    backend = RoleAwareModelBackend()
    user = backend.get_user(str(specialist.pk))
    # no profile: looked up, then made (savepoint, insert, release), on first use only
    with django_assert_num_queries(4):
        assert staff_time_zone(user) == ZoneInfo("Europe/Moscow")
    StaffProfile.objects.filter(user=specialist).update(time_zone="Asia/Vladivostok")
    user = backend.get_user(str(specialist.pk))
    with django_assert_num_queries(0):
        assert staff_time_zone(user) == ZoneInfo("Asia/Vladivostok")
    assert not hasattr(user, "fc_time_zone")
    specialist.refresh_from_db()  # another object of the same account (an API token's): read
    with django_assert_num_queries(1):
        assert staff_time_zone(specialist) == ZoneInfo("Asia/Vladivostok")
