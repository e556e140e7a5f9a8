"""``/case-of-the-week/``: this week's case as the quiz shows it, and the weeks before it.

The case part is the quiz's own (``quiz.presentation.quiz_case``: age, sex, history and images, with
labels withheld) and the answer form posts to the case's quiz page, which marks it and reveals the
answer there, so this page holds nothing the quiz page would not. The archive below names each earlier
case by a neutral heading only (``weekly.presentation``) and links to its case page, where the answer
is: a title, a diagnosis or a differential of an earlier case could name this week's answer.
"""

import uuid

from django.shortcuts import render
from django.utils import timezone
from django.views import View

from quiz.forms import AnswerForm
from quiz.presentation import quiz_case
from weekly.presentation import neutral_heading
from weekly.schedule import archive_slots, current_case, this_week

ARCHIVE_LENGTH = 52


class CaseOfTheWeekView(View):
    def get(self, request):
        today = timezone.localdate()  # once, so that the week and its archive agree around midnight
        case = current_case(today)
        archive = [
            {"slot": slot, "heading": neutral_heading(slot.case)}
            for slot in archive_slots(today)[:ARCHIVE_LENGTH]
        ]
        context = {"week_start": this_week(today), "archive": archive}
        if case is None:
            return render(request, "weekly/no_case_this_week.html", context)
        context.update(
            quiz_case=quiz_case(case),  # never the Case: the template cannot print the answer
            form=AnswerForm(initial={"key": uuid.uuid4()}),
            quiz_session=None,
        )
        return render(request, "weekly/case_of_the_week.html", context)
