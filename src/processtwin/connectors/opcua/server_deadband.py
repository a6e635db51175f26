"""Spec-conformant data-change filters for an asyncua *server* (used by the simulated plant).

asyncua's server compares a deadband with the previous *sample*, so a slow ramp never passes
an absolute deadband; it drops status changes that come with a small value change; and it
ignores percent deadbands. OPC UA Part 4 (7.22.2) says otherwise: the deadband is measured
from the last *reported* value, a status change is always reported, and a percent deadband
is a share of the node's ``EURange`` (``BadDeadbandFilterInvalid`` without one). With a
deadband, ``StatusValueTimestamp`` behaves as ``StatusValue``.

:func:`install` swaps the monitored-item service of every subscription that one server
instance creates (no process-wide patching).
"""

from __future__ import annotations

import copy
from typing import Any

from asyncua import Server, ua
from asyncua.server.address_space import AddressSpace
from asyncua.server.monitored_item_service import MonitoredItemData, MonitoredItemService
from asyncua.server.subscription_service import SubscriptionService

__all__ = ["SpecMonitoredItemService", "eu_range", "install"]

_NUMBER = (int, float)


def _change_filter(flt: Any) -> Any:
    """The filter if it is a DataChangeFilter (asyncua has two classes of that name)."""
    return flt if type(flt).__name__ == "DataChangeFilter" else None


def eu_range(aspace: AddressSpace, nodeid: ua.NodeId) -> tuple[float, float] | None:
    """The ``EURange`` property of a node, if it has one."""
    data = aspace.get(nodeid)
    if data is None:
        return None
    for ref in data.references:
        if (ref.ReferenceTypeId == ua.NodeId(ua.ObjectIds.HasProperty) and ref.IsForward
                and ref.BrowseName.Name == "EURange"):
            dv = aspace.read_attribute_value(ref.NodeId, ua.AttributeIds.Value)
            rng = dv.Value.Value if dv.Value is not None else None
            if isinstance(rng, ua.Range):
                return float(rng.Low), float(rng.High)
    return None


class SpecMonitoredItemService(MonitoredItemService):  # type: ignore[misc]
    """Deadband and trigger as OPC UA Part 4 defines them."""

    def __init__(self, isub: Any, aspace: AddressSpace) -> None:
        super().__init__(isub, aspace)
        self._reported: dict[int, ua.DataValue] = {}

    async def _create_data_change_monitored_item(
            self, params: ua.MonitoredItemCreateRequest) -> ua.MonitoredItemCreateResult:
        flt = _change_filter(params.RequestedParameters.Filter)
        if flt is not None and flt.DeadbandType == ua.DeadbandType.Percent:
            ok = 0 <= flt.DeadbandValue <= 100 and eu_range(
                self.aspace, params.ItemToMonitor.NodeId) is not None
            if not ok:
                result = ua.MonitoredItemCreateResult()
                result.StatusCode = ua.StatusCode(ua.StatusCodes.BadDeadbandFilterInvalid)
                return result
        return await super()._create_data_change_monitored_item(params)

    def _delete_monitored_items(self, mid: int) -> ua.StatusCode:
        self._reported.pop(mid, None)
        return super()._delete_monitored_items(mid)

    async def datachange_callback(self, handle: int, value: ua.DataValue,
                                  error: ua.StatusCode | None = None) -> None:
        if error:
            await super().datachange_callback(handle, value, error)
            return
        mid = self._monitored_datachange[handle]
        mdata = self._monitored_items[mid]
        if mdata.mode == ua.MonitoringMode.Disabled:
            return
        if not self._passes(mdata, self._reported.get(mid), value):
            return
        self._reported[mid] = copy.deepcopy(value)
        event = ua.MonitoredItemNotification()
        event.ClientHandle = mdata.client_handle
        event.Value = value
        await self.isub.enqueue_datachange_event(mid, event, mdata.queue_size)

    def _passes(self, mdata: MonitoredItemData, last: ua.DataValue | None,
                cur: ua.DataValue) -> bool:
        if last is None or last.StatusCode != cur.StatusCode:
            return True
        flt = _change_filter(mdata.filter)
        trigger = flt.Trigger if flt is not None else ua.DataChangeTrigger.StatusValue
        if trigger == ua.DataChangeTrigger.Status:
            return False
        old = last.Value.Value if last.Value is not None else None
        new = cur.Value.Value if cur.Value is not None else None
        if flt is not None and flt.DeadbandType != ua.DeadbandType.None_:
            if not (isinstance(old, _NUMBER) and isinstance(new, _NUMBER)):
                return bool(old != new)
            threshold = flt.DeadbandValue
            if flt.DeadbandType == ua.DeadbandType.Percent:
                rng = None
                if mdata.read_value_id is not None:
                    rng = eu_range(self.aspace, mdata.read_value_id.NodeId)
                threshold = threshold / 100.0 * (rng[1] - rng[0]) if rng else 0.0
            return bool(abs(float(new) - float(old)) > threshold)
        if old != new:
            return True
        return bool(trigger == ua.DataChangeTrigger.StatusValueTimestamp) and (
            last.SourceTimestamp != cur.SourceTimestamp
            or last.SourcePicoseconds != cur.SourcePicoseconds)


def install(server: Server) -> None:
    """Give every subscription of ``server`` a :class:`SpecMonitoredItemService`."""
    svc: SubscriptionService = server.iserver.subscription_service
    create = svc.create_subscription

    async def create_subscription(params: ua.CreateSubscriptionParameters, callback: Any,
                                  session_id: ua.NodeId, request_callback: Any = None
                                  ) -> ua.CreateSubscriptionResult:
        result = await create(params, callback, session_id, request_callback)
        isub = svc.subscriptions[result.SubscriptionId]
        isub.monitored_item_srv = SpecMonitoredItemService(isub, svc.aspace)
        return result

    svc.create_subscription = create_subscription
