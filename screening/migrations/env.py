"""Alembic environment: the URL comes from the config that screening.db.alembic_config builds."""

from alembic import context

from screening.db import make_engine
from screening.models import Base
import screening.monitoring_models  # noqa: F401,E402 - its tables join Base.metadata
import screening.ui_models  # noqa: F401,E402 - so do the interface's sessions

config = context.config
target_metadata = Base.metadata


def run_migrations_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata,
                      literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    engine = make_engine(url)
    with engine.connect() as connection:
        # render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table instead.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
