"""deploy/: Kubernetes manifests valid against the Kubernetes schemas, without any cluster.

kubernetes-validate carries the OpenAPI schemas of each Kubernetes release (offline); strict
mode also refuses fields that the schema does not know (a typo in a probe would pass silently
on a real cluster and never probe anything).
"""

import re
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
KUBERNETES = "1.33.0"


def documents() -> list[tuple[str, dict]]:
    found = []
    for path in sorted(DEPLOY.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                found.append((f"{path.name}:{document['kind']}", document))
    return found


DOCUMENTS = documents()


def by_kind(kind: str, name: str) -> dict:
    return next(d for _, d in DOCUMENTS if d["kind"] == kind and d["metadata"]["name"] == name)


@pytest.mark.parametrize(("where", "document"), DOCUMENTS, ids=[w for w, _ in DOCUMENTS])
def test_it_validates_each_manifest_against_the_kubernetes_schema(where, document):
    kubernetes_validate.validate(document, KUBERNETES, strict=True)


def test_it_deploys_every_kind_an_operator_needs():
    kinds = {kind_name.split(":")[1] for kind_name, _ in DOCUMENTS}
    assert {
        "ConfigMap",
        "Deployment",
        "Service",
        "Ingress",
        "HorizontalPodAutoscaler",
        "Job",
        "PodDisruptionBudget",
    } <= kinds


def test_it_probes_readiness_with_the_database_and_liveness_without():
    web = by_kind("Deployment", "clao-web")["spec"]["template"]["spec"]["containers"][0]
    assert web["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert web["livenessProbe"]["httpGet"]["path"] == "/healthz"
    # The image's own command (the Dockerfile's gunicorn -c gunicorn.conf.py) is not replaced.
    assert "command" not in web and "args" not in web
    assert {"configMapRef": {"name": "clao-config"}} in web["envFrom"]
    assert {"secretRef": {"name": "clao-secrets"}} in web["envFrom"]


def test_it_migrates_as_the_owner_directly_on_the_primary_with_the_same_image():
    job = by_kind("Job", "clao-migrate-1-0-0")["spec"]["template"]["spec"]["containers"][0]
    web = by_kind("Deployment", "clao-web")["spec"]["template"]["spec"]["containers"][0]
    assert job["image"] == web["image"]
    assert job["command"] == ["python", "manage.py", "migrate", "--no-input"]
    env = {item["name"]: item for item in job["env"]}
    # manage.py migrate connects with DATABASE_OWNER_URL; DATABASE_URL (the Secret's) names the
    # application's role that it grants privileges to.
    assert env["DATABASE_OWNER_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_OWNER_URL"
    assert "DATABASE_URL" not in env
    assert env["DB_TRANSACTION_POOLING"]["value"] == "0"


def test_it_pools_per_transaction_as_the_settings_expect():
    pgbouncer = by_kind("ConfigMap", "clao-pgbouncer")["data"]["pgbouncer.ini"]
    assert re.search(r"^pool_mode = transaction$", pgbouncer, re.MULTILINE)
    assert by_kind("ConfigMap", "clao-config")["data"]["DB_TRANSACTION_POOLING"] == "1"


def test_it_only_sets_variables_that_the_settings_read():
    settings_source = (ROOT / "clao" / "settings.py").read_text()
    gunicorn_source = (ROOT / "gunicorn.conf.py").read_text()
    for name in by_kind("ConfigMap", "clao-config")["data"]:
        # FORWARDED_ALLOW_IPS is read by gunicorn itself.
        assert (
            f'"{name}"' in settings_source
            or f'"{name}"' in gunicorn_source
            or name == "FORWARDED_ALLOW_IPS"
        ), name


def test_it_finishes_the_sendings_of_links_that_nobody_watches_every_minute():
    cronjob = by_kind("CronJob", "clao-send-pending-links")["spec"]
    job = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    web = by_kind("Deployment", "clao-web")["spec"]["template"]["spec"]["containers"][0]
    assert cronjob["schedule"] == "* * * * *"
    assert job["image"] == web["image"]
    assert job["command"][:3] == ["python", "manage.py", "send_pending_links"]
    # It stops starting messages before the next run is due.
    assert int(job["command"][job["command"].index("--seconds") + 1]) < 60
    # The application's role and settings, like the web pods (not the owner's).
    assert job["envFrom"] == web["envFrom"]


def test_it_creates_the_months_of_registrations_ahead_every_day_as_the_owner():
    cronjob = by_kind("CronJob", "clao-ensurepartitions")["spec"]
    job = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    web = by_kind("Deployment", "clao-web")["spec"]["template"]["spec"]["containers"][0]
    minute, hour, *every_day = cronjob["schedule"].split()
    assert every_day == ["*", "*", "*"] and minute.isdigit() and hour.isdigit()
    assert job["image"] == web["image"]
    assert job["command"] == ["python", "manage.py", "ensurepartitions"]
    env = {item["name"]: item for item in job["env"]}
    assert env["DATABASE_OWNER_URL"]["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_OWNER_URL"
    assert env["DB_TRANSACTION_POOLING"]["value"] == "0"


def test_it_drops_the_expired_months_once_a_month_as_the_retention_role():
    cronjob = by_kind("CronJob", "clao-purgeregistrations")["spec"]
    job = cronjob["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    web = by_kind("Deployment", "clao-web")["spec"]["template"]["spec"]["containers"][0]
    minute, hour, day, *every_month = cronjob["schedule"].split()
    assert every_month == ["*", "*"] and minute.isdigit() and hour.isdigit() and day.isdigit()
    assert cronjob["concurrencyPolicy"] == "Forbid"
    assert job["image"] == web["image"]
    assert job["command"] == ["python", "manage.py", "purgeregistrations", "--apply"]
    env = {item["name"]: item for item in job["env"]}
    assert env["DATABASE_RETENTION_URL"]["valueFrom"]["secretKeyRef"]["key"] == (
        "DATABASE_RETENTION_URL"
    )
    # Never the owner's role: the retention role may only run the retention function.
    assert "DATABASE_OWNER_URL" not in env
