"""Registrations sent by a device (api.Device): the device and its clock's time of the swipe."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('api', '0001_initial'),
        ('checkins', '0006_registration_hash_chain'),
        ('employers', '0001_initial'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name='registration',
            name='device',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='registrations', to='api.device', verbose_name='device'),
        ),
        migrations.AddField(
            model_name='registration',
            name='swiped_at',
            field=models.DateTimeField(blank=True, null=True, verbose_name='time of the swipe'),
        ),
        migrations.AddIndex(
            model_name='registration',
            index=models.Index(fields=['device', 'recorded_at'], name='registration_device_time'),
        ),
    ]
