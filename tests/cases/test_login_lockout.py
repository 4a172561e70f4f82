"""Login: password guessing locks the login out with a clear Russian page."""

import pytest
from django.conf import settings
from django.urls import reverse

pytestmark = pytest.mark.django_db


def _login(client, password):
    return client.post(reverse("login"), {"username": "spec", "password": password})


def test_the_login_page_is_russian_and_a_wrong_password_says_so(client, specialist):
    response = _login(client, "wrong")
    assert response.status_code == 200
    assert "Вход для сотрудников" in response.content.decode()
    assert "Пожалуйста, введите правильные имя пользователя и пароль" in response.content.decode()


def test_repeated_wrong_passwords_lock_the_login_out_with_a_russian_page(client, specialist):
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "wrong").status_code == 200
    response = _login(client, "wrong")
    html = response.content.decode()
    assert response.status_code == 429
    assert "Вход временно заблокирован" in html and "Повторите попытку через 30 мин." in html
    # Even the right password is refused while the lockout lasts.
    response = _login(client, "pass-Secret-611")
    assert response.status_code == 429 and "_auth_user_id" not in client.session


def test_a_successful_login_sends_a_specialist_to_their_cases(client, specialist):
    response = _login(client, "pass-Secret-611")
    assert response.status_code == 302
    assert client.get(response["Location"], follow=True).redirect_chain[-1][0] == "/cases/mine/"
