"""The DICOM Storage SCP: answers C-ECHO, takes C-STORE from configured senders, spools to quarantine.

Built on pynetdicom's threaded server: each association runs in a thread of its own, so a slow
sender does not hold up the others, and a thread beside them hands studies that have been quiet
for ``stable_seconds`` to the task queue (:func:`receiver.handover.studies_hand_over`). The
receiver never de-identifies or decodes pixels: it only checks who calls, reads the few header
elements that group an instance into a study, and writes the instance as it came to quarantine.

Senders are checked when the association is requested (pynetdicom's ``EVT_REQUESTED``, whose
handler may reject it): an unknown calling AE title, or a configured one calling from another
address, is rejected before any data is sent.
"""

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from django.db import OperationalError, close_old_connections, connection
from pynetdicom import AE, evt
from pynetdicom.sop_class import Verification

from imaging.inputs import MAX_FILE_BYTES
from receiver.contexts import ACCEPTED_STORAGE_CLASSES, TRANSFER_SYNTAXES
from receiver.handover import studies_hand_over
from receiver.headers import header_elements
from receiver.models import AssociationLog
from receiver.spooling import Tally, association_close, association_open, instance_spool, sender_for

logger = logging.getLogger(__name__)

# C-STORE statuses (PS3.4 Table B.2-1).
SUCCESS = 0x0000
# Attempts at a database call that SQLite refused because a table was locked (about 1.4 s in all).
LOCKED_RETRIES = 8
OUT_OF_RESOURCES = 0xA700
CANNOT_UNDERSTAND = 0xC000
# The header elements read from each instance; everything else stays unread until the gate.
_GROUPING_TAGS = ["SOPClassUID", "Modality", "StudyInstanceUID"]
# A-ASSOCIATE-RJ: rejected permanent, by the service user, calling AE title not recognised (PS3.8 9.3.4).
_REJECT_CALLING_AE = (0x01, 0x01, 0x03)


@dataclass(frozen=True)
class Limits:
    """What one association may send before it is aborted."""

    max_instances: int
    max_bytes: int
    max_seconds: float  # from the association's start: a sender that trickles is cut off
    idle_seconds: float  # with nothing received: pynetdicom's network timeout
    # One instance, as the ingest's own limit on a file: pynetdicom holds an instance in memory until it is
    # whole, so a larger one is cut off while it arrives.
    max_instance_bytes: int = MAX_FILE_BYTES


class Receiver:
    """One Storage SCP listening on ``(bind, port)``; port 0 picks a free one (see :attr:`port`)."""

    def __init__(self, *, ae_title: str, bind: str, port: int, stable_seconds: float, limits: Limits) -> None:
        self.stable_seconds = stable_seconds
        self.limits = limits
        self.ae = AE(ae_title=ae_title)
        self.ae.network_timeout = limits.idle_seconds
        self.ae.acse_timeout = limits.idle_seconds
        self.ae.dimse_timeout = limits.idle_seconds
        self.ae.maximum_associations = 16
        self.ae.add_supported_context(Verification)
        for uid in sorted(ACCEPTED_STORAGE_CLASSES):
            self.ae.add_supported_context(uid, TRANSFER_SYNTAXES)
        self.address = (bind, port)
        self._tallies: dict[object, Tally] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._db = ThreadPoolExecutor(1, thread_name_prefix="receiver-db")
        self.server = None
        self._handover_thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.server_address[1]

    def start(self) -> int:
        """Start listening and handing over in background threads; returns the port."""
        handlers = [
            (evt.EVT_REQUESTED, self._on_requested),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_DATA_RECV, self._on_data),
            (evt.EVT_RELEASED, self._on_released),
            (evt.EVT_ABORTED, self._on_aborted),
            (evt.EVT_CONN_CLOSE, self._on_closed),
        ]
        self.server = self.ae.start_server(self.address, block=False, evt_handlers=handlers)
        self._handover_thread = threading.Thread(
            target=self._hand_over_loop, name="receiver-handover", daemon=True
        )
        self._handover_thread.start()
        return self.port

    def shutdown(self) -> None:
        self._stop.set()
        if self.server is not None:
            self.server.shutdown()
        if self._handover_thread is not None:
            self._handover_thread.join()
        self._in_db(lambda: connection.close())  # looked up on the database thread: its own connection
        self._db.shutdown(wait=True)

    def _in_db(self, function, *args, **kwargs):
        """Run `function` on the receiver's one database thread and return what it returns.

        Every association's reads and writes go through one thread, so the receiver holds one database
        connection however many associations run (and however they end: a connection cut half-way ends
        its association's threads with no event of theirs to close a connection of their own).
        """

        def call():
            close_old_connections()  # as Django does per request: a connection the server dropped is replaced
            for attempt in range(LOCKED_RETRIES):
                try:
                    return function(*args, **kwargs)
                except OperationalError as error:
                    # SQLite refuses at once (no busy wait) a write to a table another connection of
                    # the same process is reading: wait briefly rather than lose the log of an association.
                    if "locked" not in str(error) or attempt == LOCKED_RETRIES - 1:
                        raise
                    time.sleep(0.05 * (attempt + 1))

        return self._db.submit(call).result()

    def hand_over_now(self) -> int:
        """Hand over every study quiet for ``stable_seconds``; returns how many."""
        return studies_hand_over(stable_seconds=self.stable_seconds)

    # -- association life cycle ----------------------------------------------------------

    def _on_requested(self, event) -> None:
        requestor = event.assoc.requestor
        ae_title, address = requestor.primitive.calling_ae_title, requestor.address
        sender, reason = self._in_db(sender_for, ae_title=ae_title, address=address)
        log = self._in_db(association_open, sender=sender, ae_title=ae_title, address=address, reason=reason)
        if sender is None:
            logger.warning("Rejected an association from %s (%s): %s", ae_title.strip(), address, reason)
            # As pynetdicom's own negotiation rejects: the A-ASSOCIATE-RJ, then wait until it is sent.
            event.assoc.acse.send_reject(*_REJECT_CALLING_AE)
            event.assoc.kill()
            return
        with self._lock:
            self._tallies[event.assoc] = Tally(log_id=log.pk, sender=sender)

    def _on_accepted(self, event) -> None:
        tally = self._tally(event.assoc)
        if tally is None:
            return
        # A SOP class none of whose proposed contexts was accepted: its instances cannot be sent. (A context
        # refused only for its transfer syntax, beside an accepted one of the same class, is no refusal.)
        accepted = {str(context.abstract_syntax) for context in event.assoc.accepted_contexts}
        refused = {str(context.abstract_syntax) for context in event.assoc.rejected_contexts} - accepted
        tally.refused_sop_classes = sorted(refused)

    def _on_released(self, event) -> None:
        self._finish(event.assoc, AssociationLog.Outcome.RELEASED, "", force=True)

    def _on_aborted(self, event) -> None:
        # The condition on which pynetdicom aborts an association that has gone quiet.
        silent = event.assoc.dul.idle_timer_expired()
        reason = f"nothing received for {self.limits.idle_seconds:g} s" if silent else "aborted"
        self._finish(event.assoc, AssociationLog.Outcome.ABORTED, reason)

    def _on_closed(self, event) -> None:
        outcome = (
            AssociationLog.Outcome.RELEASED if event.assoc.is_released else AssociationLog.Outcome.ABORTED
        )
        self._finish(
            event.assoc, outcome, "" if event.assoc.is_released else "connection closed without release"
        )

    def _finish(self, assoc, outcome: str, reason: str, *, force: bool = False) -> None:
        """Write the association's log row once; a release seen after a close still counts as one."""
        with self._lock:
            tally = self._tallies.get(assoc)
            if tally is None or (tally.finished and not force):
                return
            tally.finished = True
            reason = tally.abort_reason or reason
        self._in_db(association_close, tally=tally, outcome=outcome, reason=reason)
        if outcome != AssociationLog.Outcome.RELEASED or force:
            with self._lock:
                self._tallies.pop(assoc, None)

    def _tally(self, assoc) -> Tally | None:
        with self._lock:
            return self._tallies.get(assoc)

    # -- services ------------------------------------------------------------------------

    def _on_echo(self, event) -> int:
        return SUCCESS

    def _on_data(self, event) -> None:
        """Each PDU as it arrives: the limits are checked on the bytes in transit, so that an association
        sending one huge instance, or trickling one for ever, is aborted before the instance is whole."""
        tally = self._tally(event.assoc)
        if tally is None or tally.abort_reason:
            return
        tally.in_transit += len(event.data)
        over = self._over_limit(tally, 0)
        if not over and tally.in_transit > self.limits.max_instance_bytes:
            over = f"an instance larger than {self.limits.max_instance_bytes} bytes"
        if over:
            tally.reject("", over)
            tally.abort_reason = over
            event.assoc.abort(block=False)  # queued for the reactor whose thread this handler runs on

    def _on_store(self, event) -> int:
        tally = self._tally(event.assoc)
        sop_class = str(event.request.AffectedSOPClassUID)
        if tally is None:  # cannot happen for an accepted association; refuse rather than guess
            return OUT_OF_RESOURCES
        tally.in_transit = 0  # the PDUs that carried this instance: the next one counts afresh
        data = event.encoded_dataset()
        over = self._over_limit(tally, len(data))
        if over:
            tally.reject(sop_class, over)
            tally.abort_reason = over
            # Queued, not waited for: a handler runs on the association's own thread.
            event.assoc.abort(block=False)
            return OUT_OF_RESOURCES
        if sop_class not in ACCEPTED_STORAGE_CLASSES:
            tally.reject(sop_class, "SOP class not accepted")
            return OUT_OF_RESOURCES
        try:
            header = header_elements(data, _GROUPING_TAGS)
            study_uid = str(header.StudyInstanceUID).strip()
            modality = str(header.get("Modality", "") or "")
            if not study_uid:
                raise ValueError("no Study Instance UID")
        except Exception as error:  # any unreadable header: the instance is refused, nothing kept
            tally.reject(sop_class, f"the header cannot be read ({type(error).__name__})")
            return CANNOT_UNDERSTAND
        try:
            self._in_db(
                instance_spool,
                tally=tally,
                data=data,
                sop_class=sop_class,
                study_uid=study_uid,
                modality=modality,
            )
        except Exception:
            logger.exception("Could not spool a received instance")
            tally.reject(sop_class, "could not be stored")
            return OUT_OF_RESOURCES
        return SUCCESS

    def _over_limit(self, tally: Tally, size: int) -> str:
        """Why the association must end, if it must: `size` more bytes of an instance received whole, or
        (0) the bytes in transit counted in the tally."""
        limits = self.limits
        if size and tally.accepted + 1 > limits.max_instances:
            return f"more than {limits.max_instances} instances in one association"
        if tally.received_bytes + size + tally.in_transit > limits.max_bytes:
            return f"more than {limits.max_bytes} bytes in one association"
        if time.monotonic() - tally.started > limits.max_seconds:
            return f"association open longer than {limits.max_seconds:g} seconds"
        return ""

    def _overdue_cut(self) -> None:
        """Close the connection of every association open longer than ``max_seconds``. The per-PDU check
        cannot see a sender that trickles one PDU: pynetdicom's reader waits for the PDU's last byte
        (each byte resets its idle timer), so its socket is closed from here, which ends that wait."""
        now = time.monotonic()
        with self._lock:
            overdue = [
                (assoc, tally)
                for assoc, tally in self._tallies.items()
                if not tally.finished and now - tally.started > self.limits.max_seconds
            ]
        for assoc, tally in overdue:
            if not tally.abort_reason:
                tally.abort_reason = f"association open longer than {self.limits.max_seconds:g} seconds"
                tally.reject("", tally.abort_reason)
            socket = assoc.dul.socket
            if socket is not None:
                socket.close()

    # -- hand-over -----------------------------------------------------------------------

    def _hand_over_loop(self) -> None:
        interval = min(1.0, max(self.stable_seconds / 4, 0.1))
        while not self._stop.wait(interval):
            self._overdue_cut()
            try:
                self.hand_over_now()
            except Exception:
                logger.exception("Handing received studies over failed; trying again")
            finally:
                close_old_connections()
        connection.close()
