"""GraphQL documents that clients send verbatim."""

#: What existing clients send for the library channel (issue text, verbatim).
LIBRARY_SUBSCRIPTION = """
subscription LibraryChannelSubscription {
  channel(name: "library") {
    ... on StoryCreateEvent { type story { id url title description createdAt } }
    ... on StoryUpdateEvent { type story { id url title description createdAt } }
    ... on StoryDeleteEvent { type deletedStoryId }
    ... on TagCreateEvent { type tag { id name color createdAt } }
    ... on TagUpdateEvent { type tag { id name color createdAt } }
    ... on TagDeleteEvent { type deletedTagId }
    ... on StoryTagEvent { type storyId tagIds }
    ... on StoryUntagEvent { type storyId tagIds }
    ... on LibraryChangeEvent { type totalStories totalTags }
  }
}
"""
