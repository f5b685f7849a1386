import pytest


@pytest.mark.gen_test
async def test_healthz_answers_ok_when_the_database_answers(clients):
    response = await clients.fetch("/healthz")
    assert response.code == 200
