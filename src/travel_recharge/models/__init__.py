"""ORM tables, one module per aggregate. Importing this package registers every table."""

from travel_recharge.models.accounts import Account, TokenRevocation
from travel_recharge.models.adjustments import Adjustment
from travel_recharge.models.analytics import (
    AnalyticsSettings,
    RevenueForecastRow,
    RollupDelta,
    RollupHour,
    RollupStationDay,
    RollupStationTimeline,
    RollupTotal,
    RollupUsers,
)
from travel_recharge.models.base import Base
from travel_recharge.models.flows import (
    FlowDay,
    FlowSeriesState,
    LocalityFlowSeries,
    StationFlowSeries,
    TransferKindFlow,
    TransferLineDaySeries,
    TransferLineSeries,
    TransferPlaceSeries,
)
from travel_recharge.models.money import (
    Card,
    DenyListChange,
    FarePolicyRow,
    IdempotencyRecord,
    LedgerEntry,
    Recharge,
    Trip,
)
from travel_recharge.models.network import Alert, Locality, RechargePoint, Route, RouteStop, Station
from travel_recharge.models.offline import OfflineRisk, Repricing
from travel_recharge.models.riders import RiderDay, RiderSnapshot
from travel_recharge.models.users import User
from travel_recharge.models.web_recharges import WebRecharge

__all__ = [
    "Account",
    "Adjustment",
    "Alert",
    "AnalyticsSettings",
    "Base",
    "Card",
    "DenyListChange",
    "FarePolicyRow",
    "FlowDay",
    "FlowSeriesState",
    "IdempotencyRecord",
    "LedgerEntry",
    "Locality",
    "LocalityFlowSeries",
    "OfflineRisk",
    "Recharge",
    "RechargePoint",
    "Repricing",
    "RevenueForecastRow",
    "RiderDay",
    "RiderSnapshot",
    "RollupDelta",
    "RollupHour",
    "RollupStationDay",
    "RollupStationTimeline",
    "RollupTotal",
    "RollupUsers",
    "Route",
    "RouteStop",
    "Station",
    "StationFlowSeries",
    "TokenRevocation",
    "TransferKindFlow",
    "TransferLineDaySeries",
    "TransferLineSeries",
    "TransferPlaceSeries",
    "Trip",
    "User",
    "WebRecharge",
]
