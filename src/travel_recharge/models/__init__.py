"""ORM tables, one module per aggregate. Importing this package registers every table."""

from travel_recharge.models.base import Base

__all__ = ["Base"]
