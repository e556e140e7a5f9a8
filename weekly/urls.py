from django.urls import path

from weekly import feeds, views

urlpatterns = [
    path("case-of-the-week/", views.CaseOfTheWeekView.as_view(), name="case_of_the_week"),
    path("feeds/cases.atom", feeds.NewCasesFeed(), name="feed_new_cases"),
    path("feeds/case-of-the-week.atom", feeds.CaseOfTheWeekFeed(), name="feed_case_of_the_week"),
]
